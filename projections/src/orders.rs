use crate::bulk::{self, MAX_LIST};
use crate::coupons::rfc3339;
use crate::order_fold::{OrderChange, OrderChanges, fold};
use crate::{Envelope, Projection, ProjectionError};
use async_trait::async_trait;
use events::order::OrderPlaced;
use events::{DomainEvent, OrderLine};
use sqlx::{Any, AnyConnection, QueryBuilder};

/// `orders(order_id, user_id, status, amounts, reason, placed_at, updated)` and
/// `order_lines(order_id, product_id, quantity, unit_price)`.
pub struct Orders;

#[async_trait]
impl Projection for Orders {
    fn name(&self) -> &'static str {
        events::ProjectionName::Orders.name()
    }

    fn categories(&self) -> &'static [&'static str] {
        events::ProjectionName::Orders.categories()
    }

    fn tables(&self) -> &'static [&'static str] {
        &["orders", "order_lines"]
    }

    /// Folds the batch into one change per order (`order_fold`): orders placed in this
    /// batch are inserted in their final state with multi-row INSERTs, the others get one
    /// UPDATE each, whatever number of saga steps the batch held for them.
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        events: &[(&Envelope, &DomainEvent)],
    ) -> Result<(), ProjectionError> {
        let mut changes = OrderChanges::new();
        for (envelope, decoded) in events {
            if let DomainEvent::Order(event) = decoded {
                fold(&mut changes, event, envelope.recorded_at);
            }
        }
        write(tx, &changes).await
    }

    async fn apply(
        &self,
        tx: &mut AnyConnection,
        envelope: &Envelope,
        decoded: &DomainEvent,
    ) -> Result<(), ProjectionError> {
        self.apply_batch(tx, &[(envelope, decoded)]).await
    }
}

async fn write(tx: &mut AnyConnection, changes: &OrderChanges) -> Result<(), ProjectionError> {
    let new: Vec<(i64, &OrderPlaced, &OrderChange)> = changes
        .iter()
        .filter_map(|(id, change)| change.placed.as_ref().map(|placed| (*id, placed, change)))
        .collect();
    let known = changes.iter().filter(|(_, change)| change.placed.is_none());
    bulk::insert_rows(
        tx,
        "INSERT INTO orders (order_id, user_id, status, total_amount, discount_amount, \
         paid_amount, reason, placed_at, updated) ",
        &new,
        |mut row, (order_id, placed, change)| {
            row.push_bind(*order_id)
                .push_bind(placed.user_id.get())
                .push_bind(change.status.map_or("PENDING", |s| s.as_str()))
                .push_bind(placed.total_amount.won())
                .push_bind(change.discount_amount.unwrap_or(0))
                .push_bind(change.paid_amount.unwrap_or(0))
                .push_bind(change.reason.map(|r| r.as_str()))
                .push_bind(rfc3339(placed.placed_at))
                .push_bind(rfc3339(change.updated));
        },
        "insert orders",
    )
    .await?;
    let lines: Vec<(i64, OrderLine)> = new
        .iter()
        .flat_map(|(order_id, placed, _)| placed.lines.iter().map(|line| (*order_id, *line)))
        .collect();
    bulk::insert_rows(
        tx,
        "INSERT INTO order_lines (order_id, product_id, quantity, unit_price) ",
        &lines,
        |mut row, (order_id, line)| {
            row.push_bind(*order_id)
                .push_bind(line.product_id.get())
                .push_bind(line.quantity)
                .push_bind(line.unit_price.won());
        },
        "insert order lines",
    )
    .await?;
    let known: Vec<(i64, &OrderChange)> = known.map(|(id, change)| (*id, change)).collect();
    for chunk in known.chunks(MAX_LIST) {
        update_known(tx, chunk).await?;
    }
    Ok(())
}

/// Updates orders the table has already, one statement for the whole chunk: a CASE per
/// column, where a NULL keeps the column as it is. (One UPDATE per order was most of the
/// projector's statements: the saga settles an order a batch after placing it.)
async fn update_known(
    tx: &mut AnyConnection,
    chunk: &[(i64, &OrderChange)],
) -> Result<(), ProjectionError> {
    let mut query = QueryBuilder::<Any>::new("UPDATE orders SET ");
    // `COALESCE(?, c)`: a NULL keeps the column as it is.
    let coalesced = |query: &mut QueryBuilder<Any>,
                     column: &str,
                     bind: &dyn Fn(&mut QueryBuilder<Any>, &OrderChange)| {
        query.push(format!("{column} ="));
        bulk::push_case(query, "order_id", chunk, |query, change| {
            query.push("COALESCE(");
            bind(query, change);
            query.push(format!(", {column})"));
        });
        query.push(format!(" ELSE {column} END, "));
    };
    coalesced(&mut query, "status", &|q, c| {
        q.push_bind(c.status.map(|s| s.as_str()));
    });
    coalesced(&mut query, "discount_amount", &|q, c| {
        q.push_bind(c.discount_amount);
    });
    coalesced(&mut query, "paid_amount", &|q, c| {
        q.push_bind(c.paid_amount);
    });
    coalesced(&mut query, "reason", &|q, c| {
        q.push_bind(c.reason.map(|r| r.as_str()));
    });
    query.push("updated =");
    bulk::push_case(&mut query, "order_id", chunk, |query, change| {
        query.push_bind(rfc3339(change.updated));
    });
    query.push(" ELSE updated END WHERE ");
    bulk::push_in(&mut query, "order_id", chunk);
    query
        .build()
        .execute(&mut *tx)
        .await
        .map_err(ProjectionError::db("update orders"))?;
    Ok(())
}
