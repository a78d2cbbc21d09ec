//! Runtime helpers written as wasm functions, by domain. Only the helpers a program needs are
//! emitted: [`Gen::h`] declares a helper on first use (codegen and helper bodies alike ask for
//! helpers by name) and [`flush`] writes the bodies of those asked for, and of the helpers
//! they need in turn.

mod cache;
mod findings;
mod image;
mod lists;
mod memory;
mod numbers;
mod objects;
mod patterns;
mod quantity;
mod split_join;
mod strings;
mod text;
mod values;

use super::gen::{Gen, Helper, F};

/// Writes the body of every helper asked for so far, and of the helpers they ask for.
pub fn flush(g: &mut Gen) {
    while let Some((helper, index)) = g.next_pending() {
        let body = build(helper, g);
        g.define(index, body);
    }
}

/// The body of one helper.
fn build(helper: Helper, g: &mut Gen) -> F {
    use Helper::*;
    match helper {
        Fail => memory::fail(),
        FailType => memory::fail_type(g),
        Ensure => memory::ensure(g),
        Alloc => memory::alloc(g),
        WByte => memory::w_byte(g),
        WBytes => memory::w_bytes(g),
        Tag => values::tag(),
        Norm => values::norm(),
        Check => values::check(g),
        Expect => values::expect(g),
        AsBool => values::as_bool(g),
        BoolNode => values::bool_node(),
        NewStr => values::new_str(g),
        NewList | NewMap => values::new_coll(g, helper == NewList),
        Eq => values::eq(g),
        Cmp => values::cmp(g),
        AsInt => numbers::as_int(g),
        AsNum => numbers::as_num(g),
        NewInt | NewFloat => numbers::new_num(g, helper == NewInt),
        AddInt | SubInt => numbers::add_sub(g, helper == SubInt),
        NegInt => numbers::neg_int(g),
        GetField => objects::get_field(g),
        Field => cache::field(g),
        Cached(which) => cache::cached(g, which),
        Index => objects::index(g),
        Keys => objects::keys(g),
        Split => split_join::split(g),
        Join => split_join::join(g),
        AllContainers => objects::all_containers(g),
        CollLen => lists::coll_len(g),
        CollItem | CollKey => lists::coll_item(g, helper == CollKey),
        Item => lists::item_checked(g),
        ListConcat => lists::list_concat(g),
        In => lists::in_coll(g),
        Len => lists::len(g),
        BytesCmp => strings::bytes_cmp(),
        StrEq => strings::str_eq(g),
        StrCmp => strings::str_cmp(g),
        Concat => strings::concat(g),
        StartsWith | EndsWith => strings::starts_ends(g, helper == EndsWith),
        Contains => strings::contains(g),
        Lower | Upper => strings::case(g, helper == Upper),
        FindFirst | FindLast => strings::find(helper == FindLast),
        Glob => patterns::glob(g),
        DfaMatch => patterns::dfa_match(g),
        ToQty => quantity::to_qty(g),
        QNorm => quantity::qnorm(g),
        QParse => quantity::qparse(g),
        QCmp => quantity::qcmp(g),
        Image => image::image(g),
        WInt => text::w_int(g),
        WFloat => text::w_float(g),
        WQty => text::w_qty(g),
        WJsonStr => text::w_json_str(g),
        Json => text::json(g),
        Text => text::text(g),
        Emit => findings::emit(g),
    }
}
