//! The event's JSON, parsed once into flat buffers and read in place by templates.
//!
//! A Shopify order body holds a few hundred values; a template reads a few dozen of them.
//! Building a minijinja map per object and a string per key and value (what deserializing into
//! `minijinja::Value` does) was the most expensive step of a record: an allocation and a
//! B-tree insertion per value, and as much again to drop them. Here serde_json drives a visitor
//! that appends every value to three vectors and one string buffer ([`JsonDocument`]), and a
//! template's lookup converts only the value it asks for ([`JsonRef`] is a minijinja object).
//!
//! Templates cannot tell the difference: objects are maps and arrays are sequences; a repeated
//! key keeps its last value; keys enumerate in sorted order, as minijinja's own maps do, so
//! `tojson`, `items` and the canonical JSON behind content-hash idempotency keys do not depend
//! on the order in which a producer wrote the keys.

use std::fmt;
use std::sync::Arc;

use minijinja::Value;
use minijinja::value::{Enumerator, Object, ObjectRepr};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// One parsed JSON text: every value of it, stored flat.
#[derive(Debug, Default)]
pub struct JsonDocument {
    nodes: Vec<Node>,
    /// The children of every array, each array's contiguous.
    items: Vec<NodeId>,
    /// The members of every object, each object's contiguous: in document order, or, for an
    /// object of more than [`WIDE`] members, sorted by key (stably, so a repeated key's last
    /// value is still the last of its run).
    members: Vec<Member>,
    /// Every string and key, unescaped, back to back.
    text: String,
}

type NodeId = u32;

/// Objects with more members than this are kept sorted by key and searched in halves: a body's
/// shape must not make lookups quadratic (a 1 MiB object of 50,000 keys, serialised for the
/// content-hash key, looks every key up). Smaller ones, all of a real body's, are scanned: on
/// the order record, sorting objects above 16 members cost 12 k instructions more than it saved
/// (342 k against 329 k per record), and a scan of 64 keeps any body near-linear.
const WIDE: u32 = 64;

/// A range of one of the document's buffers. `u32` is plenty: an SQS body is at most 1 MiB.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn range(self) -> std::ops::Range<usize> {
        let start = self.start as usize;
        start..start + self.len as usize
    }
}

#[derive(Debug, Clone, Copy)]
enum Node {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    String(Span),
    Array(Span),
    Object(Span),
}

#[derive(Debug, Clone, Copy)]
struct Member {
    key: Span,
    value: NodeId,
}

/// What a JSON value is, without converting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// Any number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl JsonKind {
    /// The JSON name of the kind, for messages.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool => "boolean",
            Self::Number => "number",
            Self::String => "string",
            Self::Array => "array",
            Self::Object => "object",
        }
    }
}

impl JsonDocument {
    /// Parses `text` and returns its root value.
    pub fn parse(text: &str) -> Result<JsonRef, serde_json::Error> {
        let mut builder = Builder {
            document: JsonDocument {
                // Sizes seen on real bodies: about one node per 12 bytes, and nearly all of
                // the text is strings.
                nodes: Vec::with_capacity(text.len() / 12 + 1),
                items: Vec::new(),
                members: Vec::with_capacity(text.len() / 16 + 1),
                text: String::with_capacity(text.len()),
            },
            pending_items: Vec::new(),
            pending_members: Vec::new(),
        };
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let root = NodeSeed(&mut builder).deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(JsonRef {
            document: Arc::new(builder.document),
            node: root,
        })
    }

    fn node(&self, id: NodeId) -> Node {
        self.nodes.get(id as usize).copied().unwrap_or(Node::Null)
    }

    fn str(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or_default()
    }

    fn members(&self, span: Span) -> &[Member] {
        self.members.get(span.range()).unwrap_or_default()
    }

    fn items(&self, span: Span) -> &[NodeId] {
        self.items.get(span.range()).unwrap_or_default()
    }
}

/// A value inside a [`JsonDocument`]: a cheap handle (a reference count and an index) that reads
/// in place and is a minijinja map or sequence when handed to templates.
#[derive(Clone)]
pub struct JsonRef {
    document: Arc<JsonDocument>,
    node: NodeId,
}

impl fmt::Debug for JsonRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The document is the whole body: show only this value's kind and place.
        f.debug_struct("JsonRef")
            .field("kind", &self.kind())
            .field("node", &self.node)
            .finish()
    }
}

impl JsonRef {
    /// `{}`, made without parsing.
    #[must_use]
    pub fn empty_object() -> Self {
        Self {
            document: Arc::new(JsonDocument {
                nodes: vec![Node::Object(Span { start: 0, len: 0 })],
                ..JsonDocument::default()
            }),
            node: 0,
        }
    }

    fn at(&self, node: NodeId) -> Self {
        Self {
            document: Arc::clone(&self.document),
            node,
        }
    }

    fn node(&self) -> Node {
        self.document.node(self.node)
    }

    /// What kind of JSON value this is.
    #[must_use]
    pub fn kind(&self) -> JsonKind {
        match self.node() {
            Node::Null => JsonKind::Null,
            Node::Bool(_) => JsonKind::Bool,
            Node::Unsigned(_) | Node::Signed(_) | Node::Float(_) => JsonKind::Number,
            Node::String(_) => JsonKind::String,
            Node::Array(_) => JsonKind::Array,
            Node::Object(_) => JsonKind::Object,
        }
    }

    /// The member `key` of an object (the last one, if the key repeats).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<Self> {
        self.member(key).map(|node| self.at(node))
    }

    fn member(&self, key: &str) -> Option<NodeId> {
        let Node::Object(span) = self.node() else {
            return None;
        };
        let document = &*self.document;
        let members = document.members(span);
        if span.len > WIDE {
            // Sorted: the run of `key` ends where the keys after it begin; its last wins.
            let end = members.partition_point(|member| document.str(member.key) <= key);
            return members[..end]
                .last()
                .filter(|member| document.str(member.key) == key)
                .map(|member| member.value);
        }
        // Backwards, so that the last of a repeated key wins. Most members differ from `key` in
        // length, which is compared before the key's text is sliced out of the buffer.
        let length = key.len();
        members
            .iter()
            .rev()
            .find(|member| member.key.len as usize == length && document.str(member.key) == key)
            .map(|member| member.value)
    }

    /// The string member `key` of an object, borrowed from the document.
    #[must_use]
    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.document.node(self.member(key)?) {
            Node::String(span) => Some(self.document.str(span)),
            _ => None,
        }
    }

    /// Element `index` of an array.
    #[must_use]
    pub fn index(&self, index: usize) -> Option<Self> {
        let Node::Array(span) = self.node() else {
            return None;
        };
        let item = *self.document.items(span).get(index)?;
        Some(self.at(item))
    }

    /// The elements of an array; nothing for anything else.
    pub fn elements(&self) -> impl Iterator<Item = Self> + '_ {
        let items = match self.node() {
            Node::Array(span) => self.document.items(span),
            _ => &[],
        };
        items.iter().map(|item| self.at(*item))
    }

    /// The value at a dotted path (`customer.email`, `attendees.0.email`): objects by key,
    /// arrays by index.
    #[must_use]
    pub fn at_path(&self, path: &str) -> Option<Self> {
        path.trim()
            .split('.')
            .try_fold(self.clone(), |current, segment| match current.node() {
                Node::Object(_) => current.get(segment),
                Node::Array(_) => current.index(segment.parse().ok()?),
                _ => None,
            })
    }

    /// The member of an object whose key equals `key` ignoring ASCII case (HTTP header names).
    #[must_use]
    pub fn get_ignore_ascii_case(&self, key: &str) -> Option<Self> {
        if let Some(exact) = self.get(key) {
            return Some(exact);
        }
        let Node::Object(span) = self.node() else {
            return None;
        };
        let document = &*self.document;
        let members = document.members(span);
        let mut keys: Vec<&str> = members.iter().map(|m| document.str(m.key)).collect();
        // The same key order as enumeration, so the first match is the one a template iterating
        // the headers would see first.
        keys.sort_unstable();
        let key = keys.into_iter().find(|k| k.eq_ignore_ascii_case(key))?;
        self.get(key)
    }

    /// The string, if this is a string.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self.node() {
            Node::String(span) => Some(self.document.str(span)),
            _ => None,
        }
    }

    /// The template value: scalars are converted, arrays and objects are wrapped (not copied).
    #[must_use]
    pub fn to_value(&self) -> Value {
        match self.node() {
            Node::Null => Value::from(()),
            Node::Bool(value) => Value::from(value),
            Node::Unsigned(value) => Value::from(value),
            Node::Signed(value) => Value::from(value),
            Node::Float(value) => Value::from(value),
            Node::String(span) => Value::from(self.document.str(span)),
            Node::Array(_) | Node::Object(_) => Value::from_object(self.clone()),
        }
    }

    /// The distinct keys of an object in sorted order; empty for anything else.
    fn sorted_keys(&self) -> Vec<&str> {
        let Node::Object(span) = self.node() else {
            return Vec::new();
        };
        let document = &*self.document;
        let mut keys: Vec<&str> = document
            .members(span)
            .iter()
            .map(|member| document.str(member.key))
            .collect();
        if span.len <= WIDE {
            keys.sort_unstable();
        }
        keys.dedup();
        keys
    }
}

impl Object for JsonRef {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.node() {
            Node::Array(_) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match self.node() {
            Node::Array(_) => self.index(key.as_usize()?).map(|item| item.to_value()),
            _ => self.get_value_by_str(key.as_str()?),
        }
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        self.member(key).map(|node| self.at(node).to_value())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.node() {
            Node::Array(span) => Enumerator::Seq(span.len as usize),
            _ => Enumerator::Values(self.sorted_keys().into_iter().map(Value::from).collect()),
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(match self.node() {
            Node::Array(span) => span.len as usize,
            _ => self.sorted_keys().len(),
        })
    }

    fn is_true(self: &Arc<Self>) -> bool {
        match self.node() {
            Node::Array(span) | Node::Object(span) => span.len > 0,
            _ => false,
        }
    }
}

/// Parsing state: the document so far, and the children of the arrays and objects still open
/// (a child is complete before its parent, so each parent's children are moved to the
/// document's buffers in one piece when it closes, keeping them contiguous).
struct Builder {
    document: JsonDocument,
    pending_items: Vec<NodeId>,
    pending_members: Vec<Member>,
}

impl Builder {
    fn push(&mut self, node: Node) -> Result<NodeId, String> {
        let id = index_u32(self.document.nodes.len())?;
        self.document.nodes.push(node);
        Ok(id)
    }

    fn push_text(&mut self, text: &str) -> Result<Span, String> {
        let start = index_u32(self.document.text.len())?;
        self.document.text.push_str(text);
        Ok(Span {
            start,
            len: index_u32(text.len())?,
        })
    }
}

/// Moves the children pending since `first` (those of the array or object closing now) to the
/// end of `buffer`, where they stay together, and returns where they went.
fn settle<T>(pending: &mut Vec<T>, first: usize, buffer: &mut Vec<T>) -> Result<Span, String> {
    let start = index_u32(buffer.len())?;
    buffer.extend(pending.drain(first..));
    Ok(Span {
        start,
        len: index_u32(buffer.len())? - start,
    })
}

fn index_u32(index: usize) -> Result<u32, String> {
    u32::try_from(index).map_err(|_| "the JSON text is larger than 4 GiB".to_owned())
}

struct NodeSeed<'b>(&'b mut Builder);

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = NodeId;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<NodeId, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = NodeId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<NodeId, E> {
        self.0.push(Node::Null).map_err(E::custom)
    }

    fn visit_none<E: de::Error>(self) -> Result<NodeId, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<NodeId, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<NodeId, E> {
        self.0.push(Node::Bool(value)).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<NodeId, E> {
        self.0.push(Node::Signed(value)).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<NodeId, E> {
        self.0.push(Node::Unsigned(value)).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<NodeId, E> {
        self.0.push(Node::Float(value)).map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<NodeId, E> {
        let span = self.0.push_text(value).map_err(E::custom)?;
        self.0.push(Node::String(span)).map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeId, A::Error> {
        let builder = self.0;
        let first_pending = builder.pending_items.len();
        while let Some(item) = seq.next_element_seed(NodeSeed(&mut *builder))? {
            builder.pending_items.push(item);
        }
        let span = settle(
            &mut builder.pending_items,
            first_pending,
            &mut builder.document.items,
        );
        builder
            .push(Node::Array(span.map_err(de::Error::custom)?))
            .map_err(de::Error::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeId, A::Error> {
        let builder = self.0;
        let first_pending = builder.pending_members.len();
        while let Some(key) = map.next_key_seed(KeySeed(&mut *builder))? {
            let value = map.next_value_seed(NodeSeed(&mut *builder))?;
            builder.pending_members.push(Member { key, value });
        }
        let span = settle(
            &mut builder.pending_members,
            first_pending,
            &mut builder.document.members,
        )
        .map_err(de::Error::custom)?;
        if span.len > WIDE {
            let document = &mut builder.document;
            let text = &document.text;
            let key = |member: &Member| text.get(member.key.range()).unwrap_or_default();
            // Stable, so that repeated keys keep their document order.
            document.members[span.range()].sort_by(|a, b| key(a).cmp(key(b)));
        }
        builder.push(Node::Object(span)).map_err(de::Error::custom)
    }
}

struct KeySeed<'b>(&'b mut Builder);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Span;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Span, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = Span;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Span, E> {
        self.0.push_text(key).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> JsonRef {
        JsonDocument::parse(text).unwrap()
    }

    /// What minijinja's own deserialization gives, the behaviour this module must keep.
    fn tree(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn reads_members_items_and_scalars_in_place() {
        let root = parse(r#"{"a": {"b": [1, -2, 2.5, "x\"y", null, true]}, "c": "d"}"#);
        assert_eq!(root.kind(), JsonKind::Object);
        let list = root.get("a").and_then(|a| a.get("b")).unwrap();
        assert_eq!(list.kind(), JsonKind::Array);
        assert_eq!(list.index(3).unwrap().as_str(), Some("x\"y"));
        assert_eq!(list.index(6).map(|v| v.kind()), None);
        assert_eq!(root.get("c").unwrap().as_str(), Some("d"));
        assert!(root.get("missing").is_none());
        assert!(list.get("b").is_none());
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_and_enumerates_once() {
        let root = parse(r#"{"k": 1, "a": 0, "k": 2}"#);
        let value = root.to_value();
        assert_eq!(value.get_attr("k").unwrap(), Value::from(2));
        assert_eq!(value.len(), Some(2));
        let keys: Vec<Value> = value.try_iter().unwrap().collect();
        assert_eq!(keys, vec![Value::from("a"), Value::from("k")]);
    }

    #[test]
    fn templates_see_what_a_minijinja_value_tree_would_show() {
        let text = r#"{"z": [3, {"y": "é\n", "x": 1.0}], "b": 18446744073709551615,
            "n": -7, "t": false, "nil": null, "empty": {}, "nothing": [], "s": "<b>"}"#;
        let (lazy, eager) = (parse(text).to_value(), tree(text));
        for template in [
            "{{ z[1].y }}|{{ z[1].x }}|{{ z[-1].x }}|{{ z|length }}|{{ b }}|{{ n }}|{{ t }}",
            "{{ nil }}|{{ nil is none }}|{{ empty|length }}|{{ nothing|length }}|{{ s }}",
            "{% for k, v in z[1]|items %}{{ k }}={{ v }};{% endfor %}{% for i in z %}[{{ i }}]{% endfor %}",
            "{% if empty %}e{% endif %}{% if nothing %}n{% endif %}{% if z %}z{% endif %}",
            "{{ z|tojson }}|{{ z[1] is mapping }}|{{ z is sequence }}|{{ z|first }}|{{ z[:1] }}",
            "{{ (z[1]|dictsort)[0] }}|{{ z[1].missing is defined }}|{{ z[1]['y'] }}",
        ] {
            let mut env = minijinja::Environment::new();
            env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
            let render = |data: &Value| env.render_str(template, data.clone()).unwrap();
            assert_eq!(render(&lazy), render(&eager), "{template}");
        }
        assert_eq!(
            serde_json::to_string(&lazy).unwrap(),
            serde_json::to_string(&eager).unwrap()
        );
    }

    #[test]
    fn header_names_match_ignoring_ascii_case() {
        let headers = parse(r#"{"x-shopify-topic": "orders/paid", "X-Other": 1}"#);
        let topic = headers.get_ignore_ascii_case("X-Shopify-Topic").unwrap();
        assert_eq!(topic.as_str(), Some("orders/paid"));
        assert!(headers.get_ignore_ascii_case("X-Missing").is_none());
    }

    #[test]
    fn malformed_or_trailing_text_is_an_error() {
        for text in ["{", "[1,]", "{} {}", "", r#"{"a" 1}"#, "nul"] {
            assert!(JsonDocument::parse(text).is_err(), "{text:?}");
        }
        // serde_json's depth limit guards the stack against deeply nested bodies.
        assert!(JsonDocument::parse(&"[".repeat(10_000)).is_err());
    }
}
