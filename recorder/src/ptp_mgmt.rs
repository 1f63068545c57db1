//! A client of ptp4l's management socket (what `pmc -u` speaks): GET TIME_STATUS_NP,
//! CURRENT_DATA_SET and PORT_DATA_SET over the Unix datagram socket, big-endian PTP management
//! messages (IEEE 1588 §15 plus linuxptp's `_NP` extensions).

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Management id of linuxptp's TIME_STATUS_NP.
pub const TIME_STATUS_NP: u16 = 0xC000;
/// Management id of CURRENT_DATA_SET.
pub const CURRENT_DATA_SET: u16 = 0x2001;
/// Management id of PORT_DATA_SET.
pub const PORT_DATA_SET: u16 = 0x2004;
/// ptp4l's default management socket (linuxptp up to 4.4).
pub const DEFAULT_UDS: &str = "/var/run/ptp4l";
/// The `port_state` written to `/ptp/status` when ptp4l does not answer.
pub const NO_RESPONSE: &str = "NO_RESPONSE";

const MGMT_LEN: usize = 48;
const TLV_MANAGEMENT: u16 = 0x0001;
const TLV_MANAGEMENT_ERROR_STATUS: u16 = 0x0002;
const ACTION_GET: u8 = 0;
const ACTION_RESPONSE: u8 = 2;

/// What can go wrong talking to ptp4l.
#[derive(Debug, thiserror::Error)]
pub enum PtpError {
    /// Socket trouble: binding, sending, receiving.
    #[error("ptp4l management socket {path}: {error}")]
    Io {
        /// The server socket.
        path: PathBuf,
        /// The OS error (in the message, not a separate source: shown once).
        error: std::io::Error,
    },
    /// No answer within the timeout.
    #[error("ptp4l at {path} did not answer {what} within {timeout_ms} ms")]
    Timeout {
        /// The server socket.
        path: PathBuf,
        /// The management id asked for.
        what: &'static str,
        /// The timeout, ms.
        timeout_ms: u64,
    },
    /// ptp4l answered with a management error status.
    #[error("ptp4l refused {what}: management error {code:#06x}")]
    Refused {
        /// The management id asked for.
        what: &'static str,
        /// The managementErrorId.
        code: u16,
    },
    /// A reply that does not parse.
    #[error("malformed management reply: {0}")]
    Malformed(String),
}

/// TIME_STATUS_NP: the slave's view of its master.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeStatus {
    /// Offset from master, ns.
    pub master_offset_ns: i64,
    /// Ingress time of the last sync, ns (PTP time scale).
    pub ingress_time_ns: i64,
    /// (rateRatio − 1) · 2^41.
    pub cumulative_scaled_rate_offset: i32,
    /// Whether a grandmaster other than this clock is present.
    pub gm_present: bool,
    /// Grandmaster clock identity.
    pub gm_identity: [u8; 8],
}

impl TimeStatus {
    /// The rate ratio to the master minus one, ppb.
    pub fn rate_offset_ppb(&self) -> f64 {
        f64::from(self.cumulative_scaled_rate_offset) / 2f64.powi(41) * 1e9
    }

    /// The grandmaster identity as `xxxxxx.xxxx.xxxxxx` hex (ptp4l's way).
    pub fn gm_identity_string(&self) -> String {
        identity_string(&self.gm_identity)
    }
}

/// Formats an 8-byte clock identity as ptp4l prints it.
pub fn identity_string(id: &[u8; 8]) -> String {
    let h: Vec<String> = id.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}.{}.{}",
        h[..3].concat(),
        h[3..5].concat(),
        h[5..].concat()
    )
}

/// CURRENT_DATA_SET.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CurrentDataSet {
    /// Steps removed from the grandmaster.
    pub steps_removed: u16,
    /// Offset from master, ns.
    pub offset_from_master_ns: f64,
    /// Mean path delay, ns.
    pub mean_path_delay_ns: f64,
}

/// PORT_DATA_SET (the first port that answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortDataSet {
    /// Port number.
    pub port_number: u16,
    /// portState (1 INITIALIZING … 9 SLAVE).
    pub port_state: u8,
}

/// The name of a PTP port state.
pub fn port_state_name(s: u8) -> &'static str {
    match s {
        1 => "INITIALIZING",
        2 => "FAULTY",
        3 => "DISABLED",
        4 => "LISTENING",
        5 => "PRE_MASTER",
        6 => "MASTER",
        7 => "PASSIVE",
        8 => "UNCALIBRATED",
        9 => "SLAVE",
        _ => "UNKNOWN",
    }
}

fn be_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(w)
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(w)
}

/// A 54-byte management GET for `id` (no data), from `source` port identity.
pub fn get_request(domain: u8, sequence: u16, source: &[u8; 10], id: u16) -> Vec<u8> {
    let len = (MGMT_LEN + 6) as u16;
    let mut m = Vec::with_capacity(len as usize);
    m.push(0x0D); // transportSpecific 0, messageType MANAGEMENT
    m.push(0x02); // versionPTP
    m.extend_from_slice(&len.to_be_bytes());
    m.push(domain);
    m.push(0); // reserved
    m.extend_from_slice(&[0, 0]); // flags
    m.extend_from_slice(&[0; 8]); // correction
    m.extend_from_slice(&[0; 4]); // reserved
    m.extend_from_slice(source);
    m.extend_from_slice(&sequence.to_be_bytes());
    m.push(0x04); // control: management
    m.push(0x7F); // logMessageInterval
    m.extend_from_slice(&[0xFF; 10]); // targetPortIdentity: all clocks, all ports
    m.push(0); // startingBoundaryHops
    m.push(0); // boundaryHops: do not forward on the network
    m.push(ACTION_GET);
    m.push(0);
    m.extend_from_slice(&TLV_MANAGEMENT.to_be_bytes());
    m.extend_from_slice(&2u16.to_be_bytes());
    m.extend_from_slice(&id.to_be_bytes());
    m
}

/// A parsed management reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// RESPONSE with data.
    Response {
        /// sequenceId.
        sequence: u16,
        /// Management id.
        id: u16,
        /// Data (after the id).
        data: Vec<u8>,
    },
    /// MANAGEMENT_ERROR_STATUS.
    Error {
        /// sequenceId.
        sequence: u16,
        /// The id the error is about.
        id: u16,
        /// managementErrorId.
        code: u16,
    },
    /// Anything else (another client's traffic, a non-management message).
    Other,
}

/// Parses a management message.
pub fn parse_reply(b: &[u8]) -> Result<Reply, PtpError> {
    if b.len() < MGMT_LEN + 4 {
        return Err(PtpError::Malformed(format!("{} bytes", b.len())));
    }
    if b[0] & 0x0F != 0x0D {
        return Ok(Reply::Other);
    }
    let sequence = be_u16(b, 30);
    let action = b[46] & 0x0F;
    let tlv_type = be_u16(b, 48);
    let tlv_len = be_u16(b, 50) as usize;
    if MGMT_LEN + 4 + tlv_len > b.len() || tlv_len < 2 {
        return Err(PtpError::Malformed(format!(
            "TLV length {tlv_len} in a {}-byte message",
            b.len()
        )));
    }
    match tlv_type {
        TLV_MANAGEMENT if action == ACTION_RESPONSE => Ok(Reply::Response {
            sequence,
            id: be_u16(b, 52),
            data: b[54..MGMT_LEN + 4 + tlv_len].to_vec(),
        }),
        TLV_MANAGEMENT_ERROR_STATUS if tlv_len >= 4 => Ok(Reply::Error {
            sequence,
            code: be_u16(b, 52),
            id: be_u16(b, 54),
        }),
        _ => Ok(Reply::Other),
    }
}

fn need(d: &[u8], n: usize, what: &str) -> Result<(), PtpError> {
    if d.len() < n {
        return Err(PtpError::Malformed(format!(
            "{what}: {} data bytes, need {n}",
            d.len()
        )));
    }
    Ok(())
}

/// Parses TIME_STATUS_NP data (50 bytes).
pub fn parse_time_status(d: &[u8]) -> Result<TimeStatus, PtpError> {
    need(d, 50, "TIME_STATUS_NP")?;
    let mut gm_identity = [0u8; 8];
    gm_identity.copy_from_slice(&d[42..50]);
    Ok(TimeStatus {
        master_offset_ns: be_i64(d, 0),
        ingress_time_ns: be_i64(d, 8),
        cumulative_scaled_rate_offset: be_i32(d, 16),
        gm_present: be_i32(d, 38) != 0,
        gm_identity,
    })
}

/// Parses CURRENT_DATA_SET data (18 bytes; times are scaled ns, ·2^16).
pub fn parse_current_data_set(d: &[u8]) -> Result<CurrentDataSet, PtpError> {
    need(d, 18, "CURRENT_DATA_SET")?;
    Ok(CurrentDataSet {
        steps_removed: be_u16(d, 0),
        offset_from_master_ns: be_i64(d, 2) as f64 / 65536.0,
        mean_path_delay_ns: be_i64(d, 10) as f64 / 65536.0,
    })
}

/// Parses PORT_DATA_SET data (26 bytes).
pub fn parse_port_data_set(d: &[u8]) -> Result<PortDataSet, PtpError> {
    need(d, 26, "PORT_DATA_SET")?;
    Ok(PortDataSet {
        port_number: be_u16(d, 8),
        port_state: d[10],
    })
}

fn id_name(id: u16) -> &'static str {
    match id {
        TIME_STATUS_NP => "TIME_STATUS_NP",
        CURRENT_DATA_SET => "CURRENT_DATA_SET",
        PORT_DATA_SET => "PORT_DATA_SET",
        _ => "management id",
    }
}

/// One poll's worth of answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PtpPoll {
    /// TIME_STATUS_NP.
    pub time_status: TimeStatus,
    /// CURRENT_DATA_SET.
    pub current: CurrentDataSet,
    /// PORT_DATA_SET.
    pub port: PortDataSet,
}

/// A management client bound to its own socket path (removed on drop).
pub struct PtpClient {
    server: PathBuf,
    own: PathBuf,
    sock: UnixDatagram,
    domain: u8,
    sequence: u16,
    identity: [u8; 10],
    timeout: Duration,
}

static CLIENT_SEQ: AtomicU32 = AtomicU32::new(0);

impl PtpClient {
    /// Binds a client socket next to the system temp dir and aims it at `server`
    /// (ptp4l's `uds_address`) for PTP `domain`.
    pub fn new(server: &Path, domain: u8, timeout: Duration) -> Result<Self, PtpError> {
        let n = CLIENT_SEQ.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let own = std::env::temp_dir().join(format!("radcam-pmc.{pid}.{n}"));
        let _ = std::fs::remove_file(&own);
        let io = |error| PtpError::Io {
            path: server.to_owned(),
            error,
        };
        let sock = UnixDatagram::bind(&own).map_err(io)?;
        let mut identity = [0u8; 10];
        identity[..4].copy_from_slice(&pid.to_be_bytes());
        identity[4..8].copy_from_slice(&n.to_be_bytes());
        Ok(Self {
            server: server.to_owned(),
            own,
            sock,
            domain,
            sequence: 0,
            identity,
            timeout,
        })
    }

    /// The server socket this client asks.
    pub fn server(&self) -> &Path {
        &self.server
    }

    /// GETs `id` and returns the response data.
    pub fn get(&mut self, id: u16) -> Result<Vec<u8>, PtpError> {
        let io = |error| PtpError::Io {
            path: self.server.clone(),
            error,
        };
        self.sequence = self.sequence.wrapping_add(1);
        let req = get_request(self.domain, self.sequence, &self.identity, id);
        self.sock.send_to(&req, &self.server).map_err(io)?;
        let deadline = Instant::now() + self.timeout;
        let mut buf = [0u8; 1500];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(PtpError::Timeout {
                    path: self.server.clone(),
                    what: id_name(id),
                    timeout_ms: self.timeout.as_millis() as u64,
                });
            }
            self.sock.set_read_timeout(Some(left)).map_err(io)?;
            let n = match self.sock.recv(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue;
                }
                Err(e) => return Err(io(e)),
            };
            match parse_reply(&buf[..n])? {
                Reply::Response {
                    sequence,
                    id: rid,
                    data,
                } if sequence == self.sequence && rid == id => {
                    return Ok(data);
                }
                Reply::Error { sequence, code, .. } if sequence == self.sequence => {
                    return Err(PtpError::Refused {
                        what: id_name(id),
                        code,
                    });
                }
                // a late answer to an earlier, timed-out question
                _ => continue,
            }
        }
    }

    /// TIME_STATUS_NP, CURRENT_DATA_SET and PORT_DATA_SET.
    pub fn poll(&mut self) -> Result<PtpPoll, PtpError> {
        let time_status = parse_time_status(&self.get(TIME_STATUS_NP)?)?;
        let current = parse_current_data_set(&self.get(CURRENT_DATA_SET)?)?;
        let port = parse_port_data_set(&self.get(PORT_DATA_SET)?)?;
        Ok(PtpPoll {
            time_status,
            current,
            port,
        })
    }
}

impl Drop for PtpClient {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.own);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(seq: u16, id: u16, data: &[u8]) -> Vec<u8> {
        let mut m = get_request(0, seq, &[1; 10], id);
        m[46] = ACTION_RESPONSE;
        let tlv_len = (2 + data.len()) as u16;
        m[50..52].copy_from_slice(&tlv_len.to_be_bytes());
        m.extend_from_slice(data);
        let len = m.len() as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
        m
    }

    #[test]
    fn request_layout_matches_pmc() {
        let m = get_request(0, 7, &[0xAB; 10], TIME_STATUS_NP);
        assert_eq!(m.len(), 54);
        assert_eq!(&m[..2], &[0x0D, 0x02]);
        assert_eq!(be_u16(&m, 2), 54);
        assert_eq!(be_u16(&m, 30), 7);
        assert_eq!(m[32], 0x04);
        assert_eq!(&m[34..44], &[0xFF; 10]);
        assert_eq!(be_u16(&m, 48), TLV_MANAGEMENT);
        assert_eq!(be_u16(&m, 50), 2);
        assert_eq!(be_u16(&m, 52), TIME_STATUS_NP);
    }

    #[test]
    fn parses_time_status_and_port_state() {
        let mut d = vec![0u8; 50];
        d[..8].copy_from_slice(&(-1234i64).to_be_bytes());
        d[16..20].copy_from_slice(&(1i32 << 21).to_be_bytes()); // 2^21/2^41 = 2^-20 ≈ 953.67 ppb
        d[38..42].copy_from_slice(&1i32.to_be_bytes());
        d[42..50].copy_from_slice(&[0x00, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55]);
        let r = parse_reply(&response(3, TIME_STATUS_NP, &d)).expect("parses");
        let Reply::Response { sequence, id, data } = r else {
            panic!("not a response: {r:?}")
        };
        assert_eq!((sequence, id), (3, TIME_STATUS_NP));
        let t = parse_time_status(&data).expect("time status");
        assert_eq!(t.master_offset_ns, -1234);
        assert!(t.gm_present);
        assert!((t.rate_offset_ppb() - 953.674).abs() < 1e-3);
        assert_eq!(t.gm_identity_string(), "001122.fffe.334455");
        let mut p = vec![0u8; 26];
        p[10] = 9;
        assert_eq!(
            port_state_name(parse_port_data_set(&p).expect("p").port_state),
            "SLAVE"
        );
    }

    #[test]
    fn short_and_lying_messages_are_errors_not_panics() {
        assert!(parse_reply(&[0x0D; 10]).is_err());
        let mut m = response(1, TIME_STATUS_NP, &[0; 50]);
        m[50..52].copy_from_slice(&999u16.to_be_bytes());
        assert!(parse_reply(&m).is_err());
        assert!(parse_time_status(&[0; 10]).is_err());
    }

    proptest::proptest! {
        /// Whatever arrives on the socket (another client's traffic, a newer ptp4l, garbage),
        /// and whatever a response's data says: a reply or an error, never a panic.
        #[test]
        fn any_datagram_parses_or_is_refused(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120),
            header in proptest::prelude::any::<bool>(),
            tlv_len in 0u16..80,
        ) {
            let mut b = bytes;
            if header && b.len() >= MGMT_LEN + 4 {
                // a management message whose TLV length may lie
                b[0] = 0x0D;
                b[46] = ACTION_RESPONSE;
                b[48..50].copy_from_slice(&TLV_MANAGEMENT.to_be_bytes());
                b[50..52].copy_from_slice(&tlv_len.to_be_bytes());
            }
            if let Ok(Reply::Response { data, .. }) = parse_reply(&b) {
                let _ = parse_time_status(&data);
                let _ = parse_current_data_set(&data);
                let _ = parse_port_data_set(&data);
            }
            let _ = parse_time_status(&b);
            let _ = parse_current_data_set(&b);
            let _ = parse_port_data_set(&b);
        }
    }

    #[test]
    fn absent_ptp4l_is_an_error_naming_the_socket() {
        let dir = tempfile::tempdir().expect("tmp");
        let server = dir.path().join("no-ptp4l");
        let mut c = PtpClient::new(&server, 0, Duration::from_millis(50)).expect("binds");
        let e = c.poll().expect_err("nobody there");
        assert!(e.to_string().contains("no-ptp4l"), "{e}");
    }
}
