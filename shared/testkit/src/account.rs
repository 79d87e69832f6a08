//! The account and region the local AWS stand-in (moto) answers as.

pub const REGION: &str = "us-east-1";
/// moto's default account.
pub const ACCOUNT_ID: &str = "123456789012";
