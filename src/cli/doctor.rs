//! `easd doctor --config F`: runs the troubleshooting checks and prints one verdict per line; the
//! exit status is non-zero when any check failed.

use super::{Args, CliError};

pub fn run(args: &Args) -> Result<(), CliError> {
    let path = args.config_path()?;
    let config = args.load_config()?;
    println!("[ ok ] configuration: {} is valid", path.display());
    let report = crate::doctor::run(&config);
    print!("{report}");
    let failures = report.count(crate::doctor::Verdict::Fail);
    if failures > 0 {
        return Err(CliError::Failed(format!("{failures} check(s) failed")));
    }
    Ok(())
}
