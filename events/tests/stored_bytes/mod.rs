//! Stored bytes are a contract: the names events are stored under.

mod names;
