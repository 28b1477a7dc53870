use super::CommandServices;
use crate::domain::wallet::{Wallet, WalletCommand, WalletReply};
use crate::executor::{ExecuteResult, Executed};
use events::{Krw, Metadata, StreamId, UserId};

impl CommandServices {
    /// Charges points once per idempotency key: a repeat returns the first answer.
    pub async fn charge_points(
        &self,
        user_id: UserId,
        amount: Krw,
        idempotency_key: Option<String>,
        metadata: Metadata,
    ) -> ExecuteResult<Wallet> {
        let command = WalletCommand::Charge {
            user_id,
            amount,
            idempotency_key,
        };
        let executed: Executed<WalletReply> = self
            .wallets
            .execute(StreamId::wallet(user_id), command, metadata)
            .await?;
        Ok(executed)
    }
}
