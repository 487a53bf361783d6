//! Command line: `loadgen --addr 127.0.0.1:PORT --payload FILE.hex ...`.

use std::fs;
use std::net::SocketAddrV4;
use std::time::Duration;

pub const USAGE: &str = "\
usage: loadgen --addr IP:PORT (--payload FILE.hex | --payload-raw FILE) [options]

Opens TCP connections to IP:PORT as fast as the server takes them, keeping
--concurrency of them in flight. Each one: connect, send the payload, read
until the server closes, check the answer, close with an RST (SO_LINGER 0).

options:
  --addr IP:PORT        IPv4 address of the server (loopback in practice)
  --payload FILE        payload as hex (whitespace ignored), e.g. a ClientHello
  --payload-raw FILE    payload as raw bytes
  --concurrency N       connections in flight at all times (default 64)
  --threads N           event-loop threads sharing the connections (default 1)
  --duration D          measured time, e.g. 10s, 500ms, 1m (default 10s)
  --warmup D            unmeasured time before it (default 2s)
  --timeout D           give up on one connection after this (default 5s)
  --expect PREFIX       the answer must start with PREFIX, else it is an error
  --name NAME           name on the RESULT line (default: loadgen)
  --server-pid PID      also report this process's CPU use over the measured
                        window (from /proc/PID/schedstat), e.g. nginx's worker
  -h, --help            this text
";

#[derive(Debug)]
pub struct Config {
    pub addr: SocketAddrV4,
    pub payload: Vec<u8>,
    pub payload_name: String,
    pub concurrency: usize,
    pub threads: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub timeout: Duration,
    pub expect: Option<Vec<u8>>,
    pub name: String,
    pub server_pid: Option<u32>,
}

/// Longest `--expect` prefix: the engine keeps this many bytes of each answer.
pub const MAX_EXPECT: usize = 256;

pub enum Parsed {
    Run(Box<Config>),
    Help,
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut addr = None;
    let mut payload = None;
    let mut concurrency = 64usize;
    let mut threads = 1usize;
    let mut duration = Duration::from_secs(10);
    let mut warmup = Duration::from_secs(2);
    let mut timeout = Duration::from_secs(5);
    let mut expect = None;
    let mut name = String::from("loadgen");
    let mut server_pid = None;

    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (flag, None),
        };
        if flag == "-h" || flag == "--help" {
            return Ok(Parsed::Help);
        }
        let mut value = || -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it.next().ok_or_else(|| format!("{flag} needs a value")),
            }
        };
        match flag.as_str() {
            "--addr" => {
                let v = value()?;
                addr = Some(
                    v.parse::<SocketAddrV4>()
                        .map_err(|e| format!("--addr {v}: {e} (want IPv4:PORT)"))?,
                );
            }
            "--payload" => {
                let path = value()?;
                let text =
                    fs::read_to_string(&path).map_err(|e| format!("--payload {path}: {e}"))?;
                let bytes = decode_hex(&text).map_err(|e| format!("--payload {path}: {e}"))?;
                payload = Some((bytes, path));
            }
            "--payload-raw" => {
                let path = value()?;
                let bytes = fs::read(&path).map_err(|e| format!("--payload-raw {path}: {e}"))?;
                payload = Some((bytes, path));
            }
            "--concurrency" | "-c" => concurrency = positive(&flag, &value()?)?,
            "--threads" | "-t" => threads = positive(&flag, &value()?)?,
            "--duration" | "-d" => duration = parse_duration(&flag, &value()?)?,
            "--warmup" => warmup = parse_duration(&flag, &value()?)?,
            "--timeout" => timeout = parse_duration(&flag, &value()?)?,
            "--expect" => {
                let v = value()?.into_bytes();
                if v.len() > MAX_EXPECT {
                    return Err(format!("--expect: at most {MAX_EXPECT} bytes"));
                }
                expect = Some(v);
            }
            "--name" => name = value()?,
            "--server-pid" => {
                let v = value()?;
                server_pid = Some(
                    v.parse()
                        .map_err(|_| format!("--server-pid {v}: not a pid"))?,
                );
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }

    let addr = addr.ok_or("--addr is required")?;
    let (payload, payload_name) = payload.ok_or("--payload or --payload-raw is required")?;
    if payload.is_empty() {
        return Err("the payload is empty".into());
    }
    if duration.is_zero() {
        return Err("--duration must be above zero".into());
    }
    if threads > concurrency {
        return Err("--threads must not exceed --concurrency".into());
    }
    Ok(Parsed::Run(Box::new(Config {
        addr,
        payload,
        payload_name,
        concurrency,
        threads,
        duration,
        warmup,
        timeout,
        expect,
        name,
        server_pid,
    })))
}

fn positive(flag: &str, v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{flag} {v}: want a whole number above zero")),
    }
}

/// `10s`, `1.5s`, `500ms`, `2m`, or a bare number of seconds.
pub fn parse_duration(flag: &str, v: &str) -> Result<Duration, String> {
    let bad = || format!("{flag} {v}: want a duration such as 10s, 500ms or 1m");
    let (num, scale) = if let Some(n) = v.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60.0)
    } else {
        (v, 1.0)
    };
    let secs: f64 = num.trim().parse().map_err(|_| bad())?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs * scale))
}

pub fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let pairs = digits.chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return Err("odd number of hex digits".into());
    }
    let nibble = |c: u8| -> Result<u8, String> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(format!("not a hex digit: {:?}", c as char)),
        }
    };
    pairs
        .map(|p| Ok((nibble(p[0])? << 4) | nibble(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("-d", "10s"), Ok(Duration::from_secs(10)));
        assert_eq!(
            parse_duration("-d", "250ms"),
            Ok(Duration::from_millis(250))
        );
        assert_eq!(parse_duration("-d", "1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("-d", "3"), Ok(Duration::from_secs(3)));
        assert_eq!(
            parse_duration("-d", "1.5s"),
            Ok(Duration::from_millis(1500))
        );
        assert!(parse_duration("-d", "fast").is_err());
        assert!(parse_duration("-d", "-1s").is_err());
    }

    #[test]
    fn hex() {
        assert_eq!(
            decode_hex("16 03\n01ff\n"),
            Ok(vec![0x16, 0x03, 0x01, 0xff])
        );
        assert!(decode_hex("abc").is_err());
        assert!(decode_hex("zz").is_err());
    }

    #[test]
    fn args() {
        let dir = std::env::temp_dir().join(format!("loadgen-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("p.hex");
        fs::write(&file, "160301").unwrap();
        let argv = [
            "--addr",
            "127.0.0.1:9000",
            "--payload",
            file.to_str().unwrap(),
            "--concurrency=8",
            "--duration",
            "2s",
            "--expect",
            "tls",
        ];
        let Ok(Parsed::Run(cfg)) = parse(argv.iter().map(|s| s.to_string())) else {
            panic!("did not parse");
        };
        assert_eq!(cfg.payload, vec![0x16, 0x03, 0x01]);
        assert_eq!(cfg.concurrency, 8);
        assert_eq!(cfg.duration, Duration::from_secs(2));
        assert_eq!(cfg.expect.as_deref(), Some(&b"tls"[..]));
        fs::remove_dir_all(&dir).unwrap();
        assert!(parse(["--addr".to_string()]).is_err());
    }
}
