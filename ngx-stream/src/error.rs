//! The one error type every fallible call of the layer returns.

use core::fmt;

/// Why something failed, and so who still has to say it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A problem with a message for the operator. In a directive handler it
    /// is logged at `emerg` against the directive (`... in nginx.conf:12`);
    /// elsewhere at the level the caller chooses.
    Invalid(String),
    /// nginx has already logged what is wrong (e.g. a conflicting shared
    /// zone): nothing more to say, just fail.
    Logged,
    /// A pool or shared zone is out of memory.
    NoMemory,
}

/// `Result` with the layer's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    /// An [`Error::Invalid`] from anything printable.
    pub fn invalid(message: impl fmt::Display) -> Error {
        Error::Invalid(message.to_string())
    }

    /// The text to log, if nginx has not logged it already.
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::Invalid(message) => Some(message),
            Error::Logged => None,
            Error::NoMemory => Some("out of memory"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message().unwrap_or("error already logged by nginx"))
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Error {
        Error::Invalid(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Error {
        Error::Invalid(message.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        assert_eq!(Error::from("bad").message(), Some("bad"));
        assert_eq!(Error::Logged.message(), None);
        assert_eq!(Error::NoMemory.to_string(), "out of memory");
        assert_eq!(
            Error::invalid(format_args!("x={}", 1)),
            Error::Invalid("x=1".into())
        );
    }
}
