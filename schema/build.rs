//! Compiles `proto/radcam.proto` with protox (pure Rust, no system `protoc`) into prost types
//! and a FileDescriptorSet that becomes every channel's MCAP schema.

use std::{env, fs, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/radcam.proto");
    let fds = protox::compile(["radcam.proto"], ["proto"])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("radcam_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}
