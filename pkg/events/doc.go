// Package events is Foresight's published contract: the envelope every event travels in,
// the versioned type strings and subjects, and one Go type per event payload.
//
// Systems outside Foresight consume these events, so the rules are strict:
//   - the envelope uses the CloudEvents 1.0 attribute names (id, source, type, specversion,
//     time, subject, datacontenttype, data), JSON encoded;
//   - a type string carries its version (foresight.graph-built.v1); fields are only ever
//     added; a breaking change is a new version published beside the old one;
//   - the envelope id is also the JetStream Nats-Msg-Id, so a re-publish is de-duplicated
//     by the stream;
//   - every type has a JSON Schema in schemas/ and a fixture in testdata/ that a test
//     decodes and validates, so an old event always still decodes.
package events
