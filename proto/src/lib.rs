//! The gRPC contracts of CQRS Plus, and nothing else.
//!
//! The `.proto` files under `proto/cqrsplus/` are the source of truth; `build.rs` compiles them with
//! protox and generates the prost messages and the tonic clients and servers found here:
//!
//! - [`common::v1`]: money, the event envelope and the read-your-writes `ConsistencyToken`.
//! - [`command::v1`]: `CommandService` (one RPC per command) and `EventStore` (stream and store reads),
//!   served by command-service.
//! - [`query::v1`]: `QueryService` (posts, customers, orders, reports) and `QueryAdmin` (dead letters,
//!   rebuilds), served by query-service.
//!
//! [`FILE_DESCRIPTOR_SET`] feeds gRPC reflection, [`error_code`] is the project's one table from
//! error kinds to gRPC and HTTP codes, with the metadata keys that go with it, and [`convert`] maps
//! the event envelope and timestamps between their contract and domain forms.

pub mod convert;
pub mod error_code;

/// Types shared by the command and query contracts (package `cqrsplus.common.v1`).
pub mod common {
    /// Version 1 of the shared types.
    #[allow(clippy::all)]
    pub mod v1 {
        tonic::include_proto!("cqrsplus.common.v1");
    }
}

/// The write-side contract (package `cqrsplus.command.v1`).
pub mod command {
    /// Version 1: `CommandService` and `EventStore`.
    #[allow(clippy::all)]
    pub mod v1 {
        tonic::include_proto!("cqrsplus.command.v1");
    }
}

/// The read-side contract (package `cqrsplus.query.v1`).
pub mod query {
    /// Version 1: `QueryService` and `QueryAdmin`.
    #[allow(clippy::all)]
    pub mod v1 {
        tonic::include_proto!("cqrsplus.query.v1");
    }
}

/// The encoded `google.protobuf.FileDescriptorSet` of every contract file, imports included, for
/// tonic-reflection (`register_encoded_file_descriptor_set`).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/cqrsplus_descriptor.bin"));

#[cfg(test)]
mod tests {
    use prost::Message;
    use prost_types::FileDescriptorSet;

    use super::FILE_DESCRIPTOR_SET;

    fn descriptor_set() -> FileDescriptorSet {
        FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("the descriptor set decodes")
    }

    #[test]
    fn descriptor_set_holds_every_package_and_service() {
        let set = descriptor_set();
        let mut services = Vec::new();
        for file in &set.file {
            for service in &file.service {
                services.push(format!("{}.{}", file.package(), service.name()));
            }
        }
        for expected in [
            "cqrsplus.command.v1.CommandService",
            "cqrsplus.command.v1.EventStore",
            "cqrsplus.query.v1.QueryService",
            "cqrsplus.query.v1.QueryAdmin",
        ] {
            assert!(
                services.iter().any(|s| s == expected),
                "{expected} missing from {services:?}"
            );
        }
        let packages: Vec<&str> = set.file.iter().map(|f| f.package()).collect();
        for expected in [
            "cqrsplus.common.v1",
            "cqrsplus.command.v1",
            "cqrsplus.query.v1",
        ] {
            assert!(
                packages.contains(&expected),
                "{expected} missing from {packages:?}"
            );
        }
    }

    #[test]
    fn descriptor_set_is_self_contained_for_reflection() {
        let set = descriptor_set();
        let names: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
        for file in &set.file {
            for dependency in &file.dependency {
                assert!(
                    names.contains(&dependency.as_str()),
                    "{} imports {dependency}, which the set lacks",
                    file.name()
                );
            }
        }
    }

    #[test]
    fn command_service_has_one_rpc_per_command() {
        let set = descriptor_set();
        let service = set
            .file
            .iter()
            .flat_map(|f| &f.service)
            .find(|s| s.name() == "CommandService")
            .expect("CommandService is described");
        let rpcs: Vec<&str> = service.method.iter().map(|m| m.name()).collect();
        assert_eq!(
            rpcs,
            [
                "CreatePost",
                "EditPost",
                "LikePost",
                "UnlikePost",
                "AddComment",
                "EditComment",
                "RemoveComment",
                "DeletePost",
                "RegisterCustomer",
                "UpdateCustomer",
                "PlaceOrder",
                "ShipOrder",
                "DeliverOrder",
                "CancelOrder",
            ]
        );
    }

    #[test]
    fn generated_types_reference_each_other() {
        use crate::{command::v1 as command, common::v1 as common, query::v1 as query};

        let token = common::ConsistencyToken {
            aggregate_id: "p".into(),
            min_version: 3,
        };
        let request = query::GetPostRequest {
            post_id: "p".into(),
            include_comments: true,
            consistency: Some(token),
        };
        let decoded =
            query::GetPostRequest::decode(prost::Message::encode_to_vec(&request).as_slice())
                .expect("round trip");
        assert_eq!(decoded, request);

        let reply = command::AddCommentResponse {
            result: Some(command::CommandResult {
                aggregate_id: "p".into(),
                version: 4,
                command_id: "c".into(),
                already_applied: false,
            }),
            comment_id: "k".into(),
        };
        assert_eq!(reply.result.map(|r| r.version), Some(4));
    }
}
