//! `gunyahctl completions SHELL` and `gunyahctl man`: generated from the CLI definition, so
//! they never drift from it. Host builds only: a device's vendor gunyahctl has no use for
//! them (and AOSP does not carry clap_mangen).

use anyhow::{bail, Result};
use clap::CommandFactory;

use crate::output::Output;
use crate::Cli;

fn no_json(out: &Output, what: &str) -> Result<()> {
    if out.json() {
        bail!("--json: {what} has no JSON form");
    }
    Ok(())
}

pub fn completions(shell: clap_complete::Shell, out: &Output) -> Result<i32> {
    no_json(out, "completions")?;
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "gunyahctl", &mut std::io::stdout());
    Ok(crate::EXIT_OK)
}

pub fn man(out: &Output) -> Result<i32> {
    no_json(out, "man")?;
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
    Ok(crate::EXIT_OK)
}
