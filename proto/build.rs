//! Compiles the .proto files with protox (pure Rust: no system `protoc` needed), keeps the encoded
//! `FileDescriptorSet` for gRPC reflection, and generates prost messages plus tonic clients and
//! servers from that same descriptor set, so the code and the reflection data cannot disagree.

// Build scripts talk to cargo through stdout.
#![allow(clippy::print_stdout)]

use std::{env, error::Error, fs, path::PathBuf};

/// Every contract file, relative to the `proto/` include root.
const PROTO_FILES: &[&str] = &[
    "cqrsplus/common/v1/common.proto",
    "cqrsplus/command/v1/command.proto",
    "cqrsplus/query/v1/query.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    let proto_root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("proto");
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", proto_root.display());

    let mut compiler = protox::Compiler::new([&proto_root])?;
    // Source info carries the comments into the generated docs and into reflection; imports make
    // the set self-contained (google/protobuf/timestamp.proto included) for reflection clients.
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(PROTO_FILES)?;

    fs::write(
        out_dir.join("cqrsplus_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
