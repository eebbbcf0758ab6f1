//! The native framing's decoder (`/ws`): any text frame decodes to an event or to a
//! malformed frame with a well-formed `invalid_request` reply, never a panic; an event
//! re-encoded decodes to the same event.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_fuzz::{Framing, check_inbound};
use switchboard_gateway::ws::native::{self, Inbound};

fuzz_target!(|data: &[u8]| {
    // A text frame is UTF-8 by the time it is decoded: the WebSocket layer refuses others.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let inbound = native::decode(text);
    check_inbound(&inbound, Framing::Native);
    let Inbound::Event { name, data, ack } = &inbound else {
        return;
    };
    assert!(!name.is_empty());
    let raw = data.as_ref().map_or("null", |d| d.get());
    // decode → encode → decode: the server's spelling of the same event.
    match native::decode(native::encode_event(name, raw.as_bytes()).as_str()) {
        Inbound::Event {
            name: again,
            data: again_data,
            ack: None,
        } => {
            assert_eq!(&again, name);
            assert_eq!(
                again_data.as_ref().map(|d| d.get()),
                data.as_ref().map(|d| d.get())
            );
        }
        other => panic!("{text:?} re-encoded decodes as {other:?}"),
    }
    // The client's spelling, ack included.
    if let Some(ack) = ack {
        let name_json = serde_json::to_string(name).expect("a string serialises");
        let frame = format!(r#"{{"event":{name_json},"data":{raw},"ack":{ack}}}"#);
        match native::decode(&frame) {
            Inbound::Event {
                name: again,
                ack: again_ack,
                ..
            } => {
                assert_eq!(&again, name);
                assert_eq!(again_ack, Some(*ack));
            }
            other => panic!("{frame:?} decodes as {other:?}"),
        }
    }
});
