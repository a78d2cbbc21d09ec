//! Encodes manifest nodes into the module's linear memory (spec/abi.md "Object encoding")
//! and maps node addresses back to paths.

use crate::manifest::{Node, PathSegment, Value};

const NODE: usize = 16;

/// Node tags, as in spec/abi.md.
const TAG_NULL: u32 = 0;
const TAG_BOOL: u32 = 1;
const TAG_INT: u32 = 2;
const TAG_FLOAT: u32 = 3;
const TAG_STRING: u32 = 4;
const TAG_LIST: u32 = 5;
const TAG_MAP: u32 = 6;

fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// Bytes needed to encode `node`.
pub fn size(node: &Node) -> usize {
    NODE + match &node.value {
        Value::String(s) => align8(s.len()),
        Value::List(items) => align8(4 * items.len()) + items.iter().map(size).sum::<usize>(),
        Value::Map(entries) => {
            align8(8 * entries.len())
                + entries
                    .iter()
                    .map(|(k, v)| NODE + align8(k.len()) + size(v))
                    .sum::<usize>()
        }
        _ => 0,
    }
}

/// One encoded value node: where it is and how it hangs off its parent.
#[derive(Clone, Copy)]
pub struct Placed<'a> {
    /// Address in linear memory.
    pub addr: u32,
    /// Index of the parent in [`Encoded::nodes`] (`u32::MAX` for the root).
    pub parent: u32,
    /// Position in the parent's list, or index of the parent's map entry.
    pub seg: u32,
    /// The manifest node.
    pub node: &'a Node,
}

/// An encoded value: where it was placed and the addresses of its nodes.
pub struct Encoded<'a> {
    /// Address of the encoding's first byte.
    pub base: u32,
    /// Every value node (not map keys), in pre-order, so addresses increase.
    pub nodes: Vec<Placed<'a>>,
}

/// Writes an encoding into a buffer of zeros (padding is never written).
struct Writer<'a, 'b> {
    out: &'b mut [u8],
    len: usize,
    enc: Encoded<'a>,
    track: bool,
}

impl<'a> Encoded<'a> {
    /// Encodes `node` for placement at `base` (8-aligned) into a new buffer of
    /// [`size`]`(node)` bytes; `track` records node addresses.
    pub fn new(node: &'a Node, base: u32, track: bool) -> (Encoded<'a>, Vec<u8>) {
        let mut bytes = vec![0; size(node)];
        let enc = Encoded::write(node, base, track, &mut bytes);
        (enc, bytes)
    }

    /// Encodes `node` for placement at `base` (8-aligned) into `out`, which holds at least
    /// [`size`]`(node)` bytes, all zero (linear memory the host just allocated is).
    pub fn write(node: &'a Node, base: u32, track: bool, out: &mut [u8]) -> Encoded<'a> {
        let mut w = Writer {
            out,
            len: 0,
            enc: Encoded {
                base,
                nodes: Vec::new(),
            },
            track,
        };
        w.node(node, u32::MAX, 0);
        w.enc
    }
}

impl<'a> Writer<'a, '_> {
    fn reserve(&mut self, n: usize) -> usize {
        let at = self.len;
        self.len += align8(n);
        at
    }

    fn put32(&mut self, at: usize, v: u32) {
        self.out[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn header(&mut self, at: usize, tag: u32, word: u32, wide: u64) {
        self.put32(at, tag);
        self.put32(at + 4, word);
        self.out[at + 8..at + 16].copy_from_slice(&wide.to_le_bytes());
    }

    fn addr(&self, at: usize) -> u32 {
        self.enc.base + at as u32
    }

    fn string(&mut self, at: usize, s: &str) {
        let data = self.reserve(s.len());
        self.out[data..data + s.len()].copy_from_slice(s.as_bytes());
        let ptr = self.addr(data);
        self.header(at, TAG_STRING, s.len() as u32, ptr as u64);
    }

    fn node(&mut self, node: &'a Node, parent: u32, seg: u32) -> u32 {
        let at = self.reserve(NODE);
        let addr = self.addr(at);
        let me = self.enc.nodes.len() as u32;
        if self.track {
            self.enc.nodes.push(Placed {
                addr,
                parent,
                seg,
                node,
            });
        }
        match &node.value {
            Value::Null => self.header(at, TAG_NULL, 0, 0),
            Value::Bool(b) => self.header(at, TAG_BOOL, *b as u32, 0),
            Value::Int(i) => self.header(at, TAG_INT, 0, *i as u64),
            Value::Float(f) => self.header(at, TAG_FLOAT, 0, f.to_bits()),
            Value::String(s) => self.string(at, s),
            Value::List(items) => {
                let arr = self.reserve(4 * items.len());
                let arr_addr = self.addr(arr);
                self.header(at, TAG_LIST, items.len() as u32, arr_addr as u64);
                for (k, item) in items.iter().enumerate() {
                    let child = self.node(item, me, k as u32);
                    self.put32(arr + 4 * k, child);
                }
            }
            Value::Map(entries) => {
                // Keys sorted by bytes: the module relies on it for printing and equality.
                let mut order: Vec<usize> = (0..entries.len()).collect();
                order.sort_by(|&a, &b| entries[a].0.as_bytes().cmp(entries[b].0.as_bytes()));
                let arr = self.reserve(8 * entries.len());
                let arr_addr = self.addr(arr);
                self.header(at, TAG_MAP, entries.len() as u32, arr_addr as u64);
                for (k, &i) in order.iter().enumerate() {
                    let key = self.reserve(NODE);
                    self.string(key, &entries[i].0);
                    let key_addr = self.addr(key);
                    self.put32(arr + 8 * k, key_addr);
                    let child = self.node(&entries[i].1, me, i as u32);
                    self.put32(arr + 8 * k + 4, child);
                }
            }
        }
        addr
    }
}

impl Encoded<'_> {
    /// The address of a node of this encoding, found by identity.
    pub fn addr_of(&self, node: &Node) -> Option<u32> {
        self.nodes
            .iter()
            .find(|p| std::ptr::eq(p.node, node))
            .map(|p| p.addr)
    }

    /// The path from the root to the node at `addr`, if `addr` is one of ours.
    pub fn path_of(&self, addr: u32) -> Option<Vec<PathSegment>> {
        let mut i = self.nodes.binary_search_by_key(&addr, |p| p.addr).ok()?;
        let mut path = Vec::new();
        while self.nodes[i].parent != u32::MAX {
            let placed = self.nodes[i];
            let parent = self.nodes[placed.parent as usize];
            path.push(match &parent.node.value {
                Value::Map(entries) => PathSegment::Field(entries[placed.seg as usize].0.clone()),
                _ => PathSegment::Index(placed.seg as usize),
            });
            i = placed.parent as usize;
        }
        path.reverse();
        Some(path)
    }
}
