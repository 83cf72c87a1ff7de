//! Usages built on transactions and dialogs: what a UA does with SIP.

pub mod notifier;
pub mod pager;
pub mod publication;
pub mod registration;
pub mod subscription;
