//! `matches(s, re)`: the literal pattern is compiled here, at compile time, to a DFA whose
//! table goes into the data segment; the module only walks the table.

use std::collections::HashMap;

use regex_automata::dfa::{dense, Automaton, StartKind};
use regex_automata::util::start;
use regex_automata::Anchored;

/// Most DFA states a pattern may need.
const MAX_STATES: usize = 4096;

/// Builds the table for an unanchored "matches somewhere" search. Layout (little-endian u32
/// words): start state, row width (classes + 1), end-of-input column, offset of the accept
/// bytes, offset of the transitions, dead state (or u32::MAX); then 256 class bytes, one
/// accept byte per state, padding to 4, and `states × width` u32 transitions. Offsets are
/// relative to the table start.
pub fn dfa_table(pattern: &str) -> Result<Vec<u8>, String> {
    let dfa = dense::Builder::new()
        .configure(
            dense::Config::new()
                .start_kind(StartKind::Unanchored)
                .dfa_size_limit(Some(4 << 20))
                .determinize_size_limit(Some(4 << 20)),
        )
        .build(pattern)
        .map_err(|e| format!("invalid regular expression `{pattern}`: {e}"))?;
    let start = dfa
        .start_state(&start::Config::new().anchored(Anchored::No))
        .map_err(|e| format!("regular expression `{pattern}` is not supported: {e}"))?;
    // Number the states reachable from the start, in discovery order.
    let mut ids = HashMap::new();
    let mut order = vec![start];
    ids.insert(start, 0u32);
    let mut k = 0;
    while k < order.len() {
        let s = order[k];
        k += 1;
        let nexts = (0..=255u8)
            .map(|b| dfa.next_state(s, b))
            .chain(std::iter::once(dfa.next_eoi_state(s)));
        for n in nexts {
            if let std::collections::hash_map::Entry::Vacant(slot) = ids.entry(n) {
                slot.insert(order.len() as u32);
                order.push(n);
                if order.len() > MAX_STATES {
                    return Err(format!("regular expression `{pattern}` is too large"));
                }
            }
        }
    }
    // Bytes with identical columns share a class.
    let mut classes = [0u8; 256];
    let mut columns: Vec<Vec<u32>> = Vec::new();
    for b in 0..=255u8 {
        let col: Vec<u32> = order.iter().map(|&s| ids[&dfa.next_state(s, b)]).collect();
        let class = match columns.iter().position(|c| *c == col) {
            Some(c) => c,
            None => {
                columns.push(col);
                columns.len() - 1
            }
        };
        classes[b as usize] = class as u8;
    }
    let nclasses = columns.len() as u32;
    let width = nclasses + 1;
    let n = order.len();
    let accept_off = 24 + 256;
    let trans_off = (accept_off + n).div_ceil(4) * 4;
    let dead = order
        .iter()
        .position(|&s| dfa.is_dead_state(s))
        .map_or(u32::MAX, |i| i as u32);
    let mut out = Vec::new();
    for w in [
        0,
        width,
        nclasses,
        accept_off as u32,
        trans_off as u32,
        dead,
    ] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.extend_from_slice(&classes);
    for &s in &order {
        out.push(dfa.is_match_state(s) as u8);
    }
    out.resize(trans_off, 0);
    for (si, &s) in order.iter().enumerate() {
        for col in &columns {
            out.extend_from_slice(&col[si].to_le_bytes());
        }
        out.extend_from_slice(&ids[&dfa.next_eoi_state(s)].to_le_bytes());
    }
    Ok(out)
}
