//! Errors of the topic contract.

/// Result of the topic contract's operations.
pub type Result<T> = std::result::Result<T, Error>;

/// What can go wrong encoding or decoding a contract message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A message's bytes do not decode as the topic's type.
    #[error("message on {topic} does not decode as {schema}")]
    Decode {
        /// Topic the message came from.
        topic: &'static str,
        /// Expected schema name.
        schema: &'static str,
        /// The protobuf decoder's complaint.
        source: prost::DecodeError,
    },
    /// A Foxglove schema could not be obtained or a Foxglove message not encoded.
    #[error("foxglove message on {topic}: {detail}")]
    Foxglove {
        /// Topic concerned.
        topic: &'static str,
        /// What failed.
        detail: String,
    },
}
