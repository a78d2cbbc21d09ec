//! Constants of the host ↔ module ABI (documented in spec/abi.md). The runtime keeps its own
//! copy of these numbers; spec/abi.md is the contract between the two.

/// Version of the ABI, recorded in the metadata so a host can refuse a module it cannot run.
pub const ABI_VERSION: u32 = 3;

/// Node tags (the first `u32` of every 16-byte node). Null and absent share tag 0.
pub const TAG_NULL: i32 = 0;
pub const TAG_BOOL: i32 = 1;
pub const TAG_INT: i32 = 2;
pub const TAG_FLOAT: i32 = 3;
pub const TAG_STRING: i32 = 4;
pub const TAG_LIST: i32 = 5;
pub const TAG_MAP: i32 = 6;
/// Produced by the module only: a quantity `mantissa × 10^exponent`.
pub const TAG_QUANTITY: i32 = 7;

/// Size of every node.
pub const NODE_SIZE: i32 = 16;

/// Error codes stored in the `rampart_error` global before the module traps.
pub const ERR_TYPE: i32 = 1;
pub const ERR_OVERFLOW: i32 = 2;
pub const ERR_QUANTITY: i32 = 3;
pub const ERR_IMAGE: i32 = 4;
pub const ERR_MEMORY: i32 = 5;
pub const ERR_RULE: i32 = 6;

/// Names of the exports.
pub const EXPORT_MEMORY: &str = "memory";
pub const EXPORT_ALLOC: &str = "rampart_alloc";
pub const EXPORT_EVALUATE: &str = "rampart_evaluate";
pub const EXPORT_ERROR: &str = "rampart_error";
pub const EXPORT_ERROR_NODE: &str = "rampart_error_node";
pub const EXPORT_ERROR_EXPECTED: &str = "rampart_error_expected";
pub const EXPORT_FINDINGS: &str = "rampart_findings";
pub const EXPORT_RESET: &str = "rampart_reset";
pub const EXPORT_KEEP: &str = "rampart_keep";
pub const EXPORT_BASE: &str = "rampart_base";
/// Name of the custom section holding the JSON metadata.
pub const META_SECTION: &str = "rampart.meta";

/// Size of one finding record: next, rule, outcome, root node, message node.
pub const FINDING_SIZE: i32 = 20;

/// Fixed addresses of the constant `true` and `false` nodes (address 0 means absent).
pub const TRUE_NODE: i32 = 16;
pub const FALSE_NODE: i32 = 32;
/// Where the data segment starts.
pub const DATA_START: u32 = 16;
