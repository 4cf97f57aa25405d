//! The JSON encoding of the server functions the overview calls, decoded from text.
//!
//! server_fn's own JSON encoding decodes responses with `serde_json::from_slice`, while resource
//! hydration and the live stream use `from_str`: every type the overview receives had its
//! `Deserialize` compiled twice into the WASM. Decoding server-function answers from text too
//! keeps one copy. The wire format is the same `application/json`.

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// JSON decoded with `serde_json::from_str`.
pub struct JsonTextEncoding;

impl ContentType for JsonTextEncoding {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonTextEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde::de::Error::custom)?;
        serde_json::from_str(text)
    }
}

/// A server function's output as JSON text (for `#[server(output = JsonText)]`).
pub type JsonText = Post<JsonTextEncoding>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_bad_utf8() {
        let bytes = <JsonTextEncoding as Encodes<Vec<u32>>>::encode(&vec![1, 2]).unwrap();
        let back: Vec<u32> = <JsonTextEncoding as Decodes<Vec<u32>>>::decode(bytes).unwrap();
        assert_eq!(back, [1, 2]);
        let bad = Bytes::from_static(&[0xff, 0xfe]);
        assert!(<JsonTextEncoding as Decodes<Vec<u32>>>::decode(bad).is_err());
    }
}
