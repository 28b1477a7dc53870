//! Ids the command API assigns, drawn from durable sequences in the event store. Busy
//! sequences are reserved in blocks (hi/lo) so most ids cost no database round trip; a
//! restart skips the rest of a block, so ids are unique and increasing but not dense.

use event_store::{EventStore, StoreError};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use tokio::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdSequence {
    Product,
    Coupon,
    Order,
}

impl IdSequence {
    fn name(self) -> &'static str {
        match self {
            IdSequence::Product => "product",
            IdSequence::Coupon => "coupon",
            IdSequence::Order => "order",
        }
    }

    /// Admin-created ids stay dense; ids minted in a rush come in blocks.
    fn block_size(self) -> i64 {
        match self {
            IdSequence::Product | IdSequence::Coupon => 1,
            IdSequence::Order => 256,
        }
    }
}

#[derive(Clone)]
pub struct IdAllocator {
    store: Arc<dyn EventStore>,
    blocks: Arc<Mutex<HashMap<IdSequence, Range<i64>>>>,
}

impl IdAllocator {
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            blocks: Arc::default(),
        }
    }

    pub async fn next(&self, sequence: IdSequence) -> Result<i64, StoreError> {
        let mut blocks = self.blocks.lock().await;
        let block = blocks.entry(sequence).or_insert(0..0);
        if block.is_empty() {
            *block = self
                .store
                .reserve_ids(sequence.name(), sequence.block_size())
                .await?;
        }
        block
            .next()
            .ok_or_else(|| StoreError::Bug(format!("empty block of {} ids", sequence.name())))
    }
}
