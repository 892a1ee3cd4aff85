//! What the pages change, as typed actions. Each one is encoded as the argument list of the
//! equivalent `easd device|abq|policy` command and run by the CLI's own `execute`, so the console,
//! the user pages, the control socket and the command line share one implementation, and the page
//! shows the same message the command would print.

use crate::app::App;
use crate::device::DeviceKey;
use crate::device::abq::{Access, RuleOn};
use crate::device::policy::Level;
use crate::device::registry::WipeKind;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The administrator's allow / block / quarantine decision for one device.
    Access {
        device: DeviceKey,
        access: Access,
    },
    Remove {
        device: DeviceKey,
    },
    Wipe {
        device: DeviceKey,
        kind: WipeKind,
    },
    /// Folder options and filters, as `key=value`.
    SetOptions {
        device: DeviceKey,
        options: Vec<(String, String)>,
    },
    /// A server ABQ rule for devices like this one.
    Similar {
        device: DeviceKey,
        on: RuleOn,
        access: Access,
    },
    AbqGlobal(Access),
    AbqAdd {
        on: RuleOn,
        value: String,
        access: Access,
        description: String,
        enabled: bool,
    },
    AbqEdit {
        id: u64,
        on: RuleOn,
        value: String,
        access: Access,
        description: String,
    },
    AbqRemove(u64),
    AbqEnable {
        id: u64,
        enabled: bool,
    },
    /// Customises a level with `key=value` changes.
    PolicySet {
        level: Level,
        changes: Vec<(String, String)>,
    },
    PolicyInherit(Level),
}

impl Action {
    /// The `easd` arguments that do the same (without `--config`).
    pub fn argv(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        let mut push = |s: &str| v.push(s.to_string());
        match self {
            Action::Access { device, access } => {
                push("device");
                push(&access.to_string());
                push(&device.to_string());
            }
            Action::Remove { device } => {
                push("device");
                push("remove");
                push(&device.to_string());
            }
            Action::Wipe { device, kind } => {
                push("device");
                push(match kind {
                    WipeKind::Full => "wipe",
                    WipeKind::AccountOnly => "account-wipe",
                });
                push(&device.to_string());
            }
            Action::SetOptions { device, options } => {
                push("device");
                push("set");
                push(&device.to_string());
                for (k, val) in options {
                    push(&format!("{k}={val}"));
                }
            }
            Action::Similar { device, on, access } => {
                push("device");
                push("similar");
                push(&device.to_string());
                push(&format!("--on={on}"));
                push(&format!("--action={access}"));
            }
            Action::AbqGlobal(access) => {
                push("abq");
                push("global");
                push(&format!("--action={access}"));
            }
            Action::AbqAdd {
                on,
                value,
                access,
                description,
                enabled,
            } => {
                push("abq");
                push("add");
                push(&format!("--on={on}"));
                push(&format!("--value={value}"));
                push(&format!("--action={access}"));
                push(&format!("--description={description}"));
                if !enabled {
                    push("--disabled");
                }
            }
            Action::AbqEdit {
                id,
                on,
                value,
                access,
                description,
            } => {
                push("abq");
                push("edit");
                push(&id.to_string());
                push(&format!("--on={on}"));
                push(&format!("--value={value}"));
                push(&format!("--action={access}"));
                push(&format!("--description={description}"));
            }
            Action::AbqRemove(id) => {
                push("abq");
                push("rm");
                push(&id.to_string());
            }
            Action::AbqEnable { id, enabled } => {
                push("abq");
                push(if *enabled { "enable" } else { "disable" });
                push(&id.to_string());
            }
            Action::PolicySet { level, changes } => {
                push("policy");
                push("set");
                push(&format!("--level={level}"));
                for (k, val) in changes {
                    push(&format!("{k}={val}"));
                }
            }
            Action::PolicyInherit(level) => {
                push("policy");
                push("inherit");
                push(&format!("--level={level}"));
            }
        }
        v
    }

    /// Runs the action as the CLI would; the command's output, or its error message. Blocking
    /// (redb): call from a blocking thread.
    pub fn run(&self, app: &Arc<App>, who: &str) -> Result<String, String> {
        let argv = self.argv();
        log::info!("web console: {who}: easd {}", argv.join(" "));
        crate::cli::execute_admin(&app.devices, &argv).map_err(|e| match e {
            crate::cli::CliError::Usage(m) | crate::cli::CliError::Failed(m) => m,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DeviceId;

    #[test]
    fn argv_is_the_cli_form() {
        let device = DeviceKey::new("a@x.org", DeviceId::parse("Dev1").unwrap());
        assert_eq!(
            Action::Access {
                device: device.clone(),
                access: Access::Block
            }
            .argv(),
            ["device", "block", "a@x.org/Dev1"]
        );
        assert_eq!(
            Action::Wipe {
                device,
                kind: WipeKind::AccountOnly
            }
            .argv(),
            ["device", "account-wipe", "a@x.org/Dev1"]
        );
        assert_eq!(
            Action::AbqAdd {
                on: RuleOn::Model,
                value: "--x y".into(),
                access: Access::Quarantine,
                description: "".into(),
                enabled: false,
            }
            .argv(),
            [
                "abq",
                "add",
                "--on=model",
                "--value=--x y",
                "--action=quarantine",
                "--description=",
                "--disabled"
            ]
        );
        assert_eq!(
            Action::PolicySet {
                level: Level::Domain("x.org".into()),
                changes: vec![("password_required".into(), "true".into())]
            }
            .argv(),
            [
                "policy",
                "set",
                "--level=domain:x.org",
                "password_required=true"
            ]
        );
    }
}
