//! The PTP source against two real ptp4l (Debian `linuxptp`) in two network namespaces joined by
//! a veth pair, software timestamping, both `free_running 1`: no clock on this machine is ever
//! adjusted. Needs root, `ip` and `ptp4l`; fails (never skips) without them. Feature `ptp4l`.
#![cfg(feature = "ptp4l")]

use radcam_recorder::live::{LiveRequest, Rig};
use radcam_schema::proto;
use std::path::Path;
use std::process::{Child, Command, Stdio};

mod common;
use common::wait_for;

fn ip(args: &[&str]) {
    let st = Command::new("ip")
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("`ip` is needed (iproute2): {e}"));
    assert!(st.success(), "ip {args:?} failed (root is needed)");
}

/// Two namespaces, a veth pair, and the ptp4l processes; removed on drop.
struct Netns {
    master_ns: String,
    slave_ns: String,
    children: Vec<Child>,
}

impl Netns {
    fn new() -> Self {
        let id = std::process::id() % 100_000;
        let (m, s) = (format!("rcm{id}"), format!("rcs{id}"));
        let (a, b) = (format!("rcv{id}a"), format!("rcv{id}b"));
        let n = Netns {
            master_ns: m.clone(),
            slave_ns: s.clone(),
            children: Vec::new(),
        };
        ip(&["netns", "add", &m]);
        ip(&["netns", "add", &s]);
        ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
        ip(&["link", "set", &a, "netns", &m]);
        ip(&["link", "set", &b, "netns", &s]);
        ip(&["-n", &m, "addr", "add", "10.231.0.1/24", "dev", &a]);
        ip(&["-n", &s, "addr", "add", "10.231.0.2/24", "dev", &b]);
        for (ns, dev) in [(&m, &a), (&s, &b)] {
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        n
    }

    fn ptp4l(&mut self, ns_is_master: bool, cfg: &Path, log: &Path) -> usize {
        let (ns, dev) = if ns_is_master {
            (
                self.master_ns.clone(),
                format!("rcv{}a", std::process::id() % 100_000),
            )
        } else {
            (
                self.slave_ns.clone(),
                format!("rcv{}b", std::process::id() % 100_000),
            )
        };
        let log = std::fs::File::create(log).expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", &ns, "ptp4l", "-m", "-i", &dev, "-f"])
            .arg(cfg)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("ptp4l (linuxptp) is needed: {e}"));
        self.children.push(child);
        self.children.len() - 1
    }

    fn kill(&mut self, i: usize) {
        let c = &mut self.children[i];
        c.kill().expect("kill ptp4l");
        c.wait().expect("reap ptp4l");
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.master_ns, &self.slave_ns] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn config(dir: &Path, name: &str, slave: bool) -> std::path::PathBuf {
    let p = dir.join(format!("{name}.cfg"));
    let mut s = format!(
        "[global]\n\
         time_stamping software\n\
         free_running 1\n\
         uds_address {}\n\
         logSyncInterval -3\n\
         logAnnounceInterval -2\n\
         announceReceiptTimeout 2\n",
        dir.join(format!("{name}.sock")).display()
    );
    if slave {
        s.push_str("slaveOnly 1\n");
    }
    std::fs::write(&p, s).expect("write ptp4l config");
    p
}

#[test]
fn polls_a_real_ptp4l_and_sees_the_master_die() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut net = Netns::new();
    let master = net.ptp4l(
        true,
        &config(dir.path(), "master", false),
        &dir.path().join("m.log"),
    );
    let slave = net.ptp4l(
        false,
        &config(dir.path(), "slave", true),
        &dir.path().join("s.log"),
    );

    let rig_toml = format!(
        "[ptp]\nuds = \"{}\"\npoll_hz = 20\ntimeout_ms = 100\n[node]\nstats_hz = 0\n\
         [output]\nflush_interval_ms = 100\nprogress_interval_ms = 20\n",
        dir.path().join("slave.sock").display()
    );
    let rig = Rig::parse(&rig_toml, Path::new("ptp-rig.toml")).expect("rig");
    let out = dir.path().join("ptp.mcap");
    let req = LiveRequest {
        out: out.clone(),
        duration_s: None,
        rig_toml,
    };
    let rec = common::Running::start(rig, req);
    let rx = &rec.rx;
    wait_for(rx, "the slave to measure its master", |p| {
        matches!(p.ptp_state.as_str(), "UNCALIBRATED" | "SLAVE") && p.ptp_offset_ns != 0
    });
    net.kill(master);
    wait_for(rx, "the slave to lose its master", |p| {
        p.ptp_state == "LISTENING"
    });
    net.kill(slave);
    wait_for(rx, "ptp4l to stop answering", |p| {
        p.ptp_state == "NO_RESPONSE"
    });
    rec.finish();

    let bytes = std::fs::read(&out).expect("recording");
    let mut status: Vec<proto::PtpStatus> = Vec::new();
    let mut audits: Vec<proto::AuditEvent> = Vec::new();
    for m in mcap::MessageStream::new(&bytes).expect("valid MCAP") {
        let m = m.expect("message");
        match m.channel.topic.as_str() {
            "/ptp/status" => status.push(radcam_schema::decode(&m.data).expect("status")),
            "/audit" => audits.push(radcam_schema::decode(&m.data).expect("audit")),
            _ => {}
        }
    }
    status.sort_by_key(|s| s.host_query_ns);
    let tracking: Vec<&proto::PtpStatus> = status.iter().filter(|s| s.gm_present).collect();
    assert!(!tracking.is_empty(), "never synchronised: {status:?}");
    // one host clock on both ends: the measured offset is software-timestamping noise
    let last = tracking.last().expect("tracking sample");
    assert!(last.master_offset_ns.abs() < 1_000_000, "{last:?}");
    assert!(last.path_delay_ns > 0.0, "{last:?}");
    assert_ne!(last.gm_identity, "000000.0000.000000");
    // after the master died: lost, then no answer at all
    let first_lost = status
        .iter()
        .position(|s| s.port_state == "LISTENING" && s.host_query_ns > last.host_query_ns)
        .expect("a lost-sync sample");
    assert!(status[first_lost..].iter().all(|s| !s.gm_present));
    assert_eq!(
        status.last().map(|s| s.port_state.as_str()),
        Some("NO_RESPONSE")
    );
    let changes: Vec<(String, String)> = audits
        .iter()
        .filter(|a| a.kind == "SYNC_STATE_CHANGED")
        .map(|a| (a.old_state.clone(), a.new_state.clone()))
        .collect();
    assert!(
        changes
            .iter()
            .any(|(o, n)| matches!(o.as_str(), "UNCALIBRATED" | "SLAVE") && n == "LISTENING"),
        "{changes:?}"
    );
    assert!(
        changes.iter().any(|(_, n)| n == "NO_RESPONSE"),
        "{changes:?}"
    );
}
