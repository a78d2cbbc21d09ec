//! The Rampart policy language: source → tokens → syntax tree → typed IR → backends.
