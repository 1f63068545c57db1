//! The PTP source: polls ptp4l's management socket → `/ptp/status`.
//!
//! A ptp4l that does not answer is recorded (`port_state` = `NO_RESPONSE`, `gm_present` false),
//! never fatal. Every change of port state is an audit event (`SYNC_STATE_CHANGED`).
//!
//! `gm_present` in `/ptp/status` means "synchronised to a grandmaster": ptp4l's own gmPresent
//! *and* a port in SLAVE or UNCALIBRATED *and* a sync received (ingress time set). ptp4l 3.1.1 keeps reporting gmPresent after its
//! master vanished (the port falls back to LISTENING), so the port state decides.

use super::bus::{Bus, host_now_ns};
use super::rig::PtpConfig;
use crate::ptp_mgmt::{NO_RESPONSE, PtpClient, PtpPoll, port_state_name};
use radcam_schema::proto;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The `/ptp/status` message for one poll answered at `host_query_ns`.
pub fn to_message(p: &PtpPoll, host_query_ns: i64) -> proto::PtpStatus {
    let state = port_state_name(p.port.port_state);
    let tracking = matches!(state, "SLAVE" | "UNCALIBRATED");
    proto::PtpStatus {
        host_query_ns,
        master_offset_ns: p.time_status.master_offset_ns,
        ingress_time_ns: p.time_status.ingress_time_ns,
        path_delay_ns: p.current.mean_path_delay_ns,
        freq_ppb: p.time_status.rate_offset_ppb(),
        port_state: state.to_owned(),
        gm_present: p.time_status.gm_present && tracking && p.time_status.ingress_time_ns != 0,
        gm_identity: p.time_status.gm_identity_string(),
    }
}

/// Runs the PTP source until the bus says stop.
pub fn run(cfg: PtpConfig, bus: Bus) {
    let period = Duration::from_secs_f64(1.0 / cfg.poll_hz);
    let timeout = Duration::from_millis(cfg.timeout_ms).min(period);
    let mut client = match PtpClient::new(&cfg.uds, cfg.domain, timeout) {
        Ok(c) => c,
        Err(e) => {
            bus.audit("SYNC_STATE_CHANGED", "", NO_RESPONSE, e.to_string());
            return;
        }
    };
    let mut state = String::new();
    let mut next = Instant::now();
    while !bus.stopping() {
        let (msg, why) = match client.poll() {
            Ok(p) => (to_message(&p, host_now_ns()), None),
            Err(e) => (
                proto::PtpStatus {
                    host_query_ns: host_now_ns(),
                    port_state: NO_RESPONSE.to_owned(),
                    ..Default::default()
                },
                Some(e.to_string()),
            ),
        };
        if msg.port_state != state {
            let detail = why
                .unwrap_or_else(|| format!("ptp4l {} gm {}", cfg.uds.display(), msg.gm_identity));
            bus.audit("SYNC_STATE_CHANGED", &state, &msg.port_state, detail);
            state.clone_from(&msg.port_state);
        }
        bus.stats
            .ptp_offset_ns
            .store(msg.master_offset_ns, Ordering::Relaxed);
        if let Ok(mut s) = bus.stats.ptp_state.lock() {
            s.clone_from(&msg.port_state);
        }
        bus.send(msg.host_query_ns, &msg);
        next += period;
        let now = Instant::now();
        if next < now {
            next = now;
        }
        if !bus.pause(next - now) {
            break;
        }
    }
}
