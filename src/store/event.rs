//! The normalised ECS network event: what `ingest` and the fleet generator produce and what
//! [`super::write`] stores. Readers never see this struct: they scan Parquet columns by ECS name.

use serde::{Deserialize, Serialize};

/// One ECS network event with the fields netrare reads or writes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcsEvent {
    /// `@timestamp`, epoch milliseconds UTC.
    pub timestamp_ms: i64,
    /// `event.category`, e.g. `["network"]`.
    pub event_category: Vec<String>,
    /// `event.type`, e.g. `["connection", "start"]`.
    pub event_type: Vec<String>,
    /// `event.action`, e.g. `connection_attempted` (Defend) or `connected-to` (auditd).
    pub event_action: Option<String>,
    /// `event.dataset`, e.g. `endpoint.events.network` or `auditd_manager.auditd`.
    pub event_dataset: Option<String>,
    /// `event.module`, e.g. `endpoint` or `auditd`.
    pub event_module: Option<String>,
    /// `event.outcome`: `success`, `failure` or `unknown`.
    pub event_outcome: Option<String>,
    /// `host.name`.
    pub host_name: Option<String>,
    /// `host.id`.
    pub host_id: Option<String>,
    /// `host.os.type`, e.g. `linux`.
    pub host_os_type: Option<String>,
    /// `host.os.family`, e.g. `debian`.
    pub host_os_family: Option<String>,
    /// `process.pid`.
    pub process_pid: Option<i64>,
    /// `process.name`.
    pub process_name: Option<String>,
    /// `process.executable`.
    pub process_executable: Option<String>,
    /// `process.args`.
    pub process_args: Vec<String>,
    /// `process.title`: the command line as the process shows it, arguments joined by spaces.
    pub process_title: Option<String>,
    /// `process.working_directory`.
    pub process_working_directory: Option<String>,
    /// `process.parent.pid`.
    pub process_parent_pid: Option<i64>,
    /// `user.id`.
    pub user_id: Option<String>,
    /// `user.name`.
    pub user_name: Option<String>,
    /// `source.ip`.
    pub source_ip: Option<String>,
    /// `source.port`.
    pub source_port: Option<i64>,
    /// `destination.ip`.
    pub destination_ip: Option<String>,
    /// `destination.port`.
    pub destination_port: Option<i64>,
    /// `network.direction`: `ingress` or `egress`.
    pub network_direction: Option<String>,
    /// `network.transport`, e.g. `tcp`.
    pub network_transport: Option<String>,
}
