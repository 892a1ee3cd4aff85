//! ABQ (allow / block / quarantine) rules and their evaluation in the guide's order: the user
//! rule, the domain rule, the server rules on OS, then model, then type, and last the global rule.
//! Server rules match a case-sensitive prefix of what the device reported ("Andr" matches
//! "Android 14"); the longest matching prefix wins.

use super::DeviceError;
use super::registry::Device;
use super::tables::{self, ABQ_GLOBAL, ABQ_RULES};
use redb::TableHandle;
use redb::{ReadableDatabase, ReadableTable, TableError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Allow,
    Block,
    Quarantine,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Allow => "allow",
            Access::Block => "block",
            Access::Quarantine => "quarantine",
        })
    }
}

impl FromStr for Access {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "allow" => Ok(Access::Allow),
            "block" => Ok(Access::Block),
            "quarantine" => Ok(Access::Quarantine),
            _ => Err(DeviceError::BadValue {
                key: "action".into(),
                message: format!("{s:?} is not allow, block or quarantine"),
            }),
        }
    }
}

/// What a rule looks at, in evaluation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleOn {
    User,
    Domain,
    Os,
    Model,
    Type,
}

impl RuleOn {
    const ORDER: [RuleOn; 5] = [
        RuleOn::User,
        RuleOn::Domain,
        RuleOn::Os,
        RuleOn::Model,
        RuleOn::Type,
    ];

    /// Server rules compare a prefix; user and domain rules name one user or domain.
    fn is_server_rule(self) -> bool {
        matches!(self, RuleOn::Os | RuleOn::Model | RuleOn::Type)
    }
}

impl fmt::Display for RuleOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuleOn::User => "user",
            RuleOn::Domain => "domain",
            RuleOn::Os => "os",
            RuleOn::Model => "model",
            RuleOn::Type => "type",
        })
    }
}

impl FromStr for RuleOn {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RuleOn::ORDER
            .into_iter()
            .find(|r| r.to_string() == s)
            .ok_or_else(|| DeviceError::BadValue {
                key: "on".into(),
                message: format!("{s:?} is not os, model, type, domain or user"),
            })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: u64,
    pub on: RuleOn,
    pub value: String,
    pub action: Access,
    pub enabled: bool,
    #[serde(default)]
    pub description: String,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rule {} ({} {:?})",
            self.on, self.id, self.action, self.value
        )
    }
}

/// What one device is judged on.
pub struct Subject<'a> {
    pub user: &'a str,
    pub os: Option<&'a str>,
    pub model: Option<&'a str>,
    pub device_type: &'a str,
}

impl<'a> Subject<'a> {
    pub fn of(device: &'a Device) -> Subject<'a> {
        Subject {
            user: &device.user,
            os: device.info.os.as_deref(),
            model: device.info.model.as_deref(),
            device_type: &device.device_type,
        }
    }

    fn field(&self, on: RuleOn) -> Option<&'a str> {
        match on {
            RuleOn::User => Some(self.user),
            RuleOn::Domain => self.user.rsplit_once('@').map(|(_, d)| d),
            RuleOn::Os => self.os,
            RuleOn::Model => self.model,
            RuleOn::Type => Some(self.device_type),
        }
    }
}

/// The outcome and which rule gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub access: Access,
    pub reason: String,
}

/// Applies the rules in the guide's order; the first step with a matching rule decides.
pub fn evaluate(rules: &[Rule], global: Access, subject: &Subject) -> Decision {
    for on in RuleOn::ORDER {
        let Some(value) = subject.field(on) else {
            continue;
        };
        let best = rules
            .iter()
            .filter(|r| r.enabled && r.on == on)
            .filter(|r| {
                if on.is_server_rule() {
                    !r.value.is_empty() && value.starts_with(r.value.as_str())
                } else {
                    r.value.eq_ignore_ascii_case(value)
                }
            })
            .max_by(|a, b| {
                a.value
                    .len()
                    .cmp(&b.value.len())
                    .then_with(|| b.id.cmp(&a.id))
            });
        if let Some(rule) = best {
            return Decision {
                access: rule.action,
                reason: rule.to_string(),
            };
        }
    }
    Decision {
        access: global,
        reason: format!("global rule ({global})"),
    }
}

/// The rule "for similar devices": a server rule on the device's OS, model or type.
pub fn similar(device: &Device, on: RuleOn) -> Result<String, DeviceError> {
    let value = match on {
        RuleOn::Os => device.info.os.clone(),
        RuleOn::Model => device.info.model.clone(),
        RuleOn::Type => Some(device.device_type.clone()),
        RuleOn::User | RuleOn::Domain => None,
    };
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| DeviceError::BadValue {
            key: "on".into(),
            message: format!(
                "the device reported no {on}; a similar-device rule needs os, model or type"
            ),
        })
}

/// Every rule, in id order.
pub fn rules(db: &redb::Database) -> Result<Vec<Rule>, DeviceError> {
    let txn = db.begin_read()?;
    match txn.open_table(ABQ_RULES) {
        Ok(t) => read_rules(&t),
        Err(TableError::TableDoesNotExist(_)) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

pub fn read_rules(
    table: &impl ReadableTable<u64, &'static [u8]>,
) -> Result<Vec<Rule>, DeviceError> {
    let mut out = Vec::new();
    for entry in table.iter()? {
        let (k, v) = entry?;
        out.push(tables::decode(ABQ_RULES.name(), k.value(), v.value())?);
    }
    Ok(out)
}

pub fn global(db: &redb::Database) -> Result<Access, DeviceError> {
    Ok(tables::read(db, ABQ_GLOBAL, "global")?.unwrap_or(Access::Allow))
}

pub fn set_global(db: &redb::Database, access: Access) -> Result<(), DeviceError> {
    tables::write(db, ABQ_GLOBAL, "global", Some(&access))
}

/// Checks a rule's value for its kind; user and domain values are stored lower-cased.
fn checked_value(on: RuleOn, value: &str) -> Result<String, DeviceError> {
    let bad = |m: &str| DeviceError::BadValue {
        key: "value".into(),
        message: m.to_string(),
    };
    match on {
        RuleOn::User if !crate::config::valid_email(value) => {
            Err(bad("a user rule needs an address"))
        }
        RuleOn::Domain if value.is_empty() || value.contains(['@', '/', ' ']) => {
            Err(bad("a domain rule needs a domain name"))
        }
        RuleOn::User | RuleOn::Domain => Ok(value.to_ascii_lowercase()),
        _ if value.is_empty() => Err(bad("a server rule needs a value")),
        _ => Ok(value.to_string()),
    }
}

/// Adds a rule and returns its id. User and domain values are checked as such.
pub fn add(
    db: &redb::Database,
    on: RuleOn,
    value: &str,
    action: Access,
    description: &str,
) -> Result<Rule, DeviceError> {
    let value = checked_value(on, value)?;
    let txn = db.begin_write()?;
    let rule = {
        let mut t = txn.open_table(ABQ_RULES)?;
        let id = t.last()?.map_or(1, |(k, _)| k.value() + 1);
        let rule = Rule {
            id,
            on,
            value,
            action,
            enabled: true,
            description: description.to_string(),
        };
        t.insert(id, tables::encode(&rule).as_slice())?;
        rule
    };
    txn.commit()?;
    Ok(rule)
}

/// Replaces an existing rule (kept under its id, so its place in tie-breaks stays); the value is
/// checked as `add` checks it.
pub fn update(db: &redb::Database, rule: &Rule) -> Result<Rule, DeviceError> {
    let rule = Rule {
        value: checked_value(rule.on, &rule.value)?,
        ..rule.clone()
    };
    let txn = db.begin_write()?;
    {
        let mut t = txn.open_table(ABQ_RULES)?;
        if t.get(rule.id)?.is_none() {
            return Err(DeviceError::UnknownRule(rule.id));
        }
        t.insert(rule.id, tables::encode(&rule).as_slice())?;
    }
    txn.commit()?;
    Ok(rule)
}

pub fn remove(db: &redb::Database, id: u64) -> Result<(), DeviceError> {
    let txn = db.begin_write()?;
    let existed = txn.open_table(ABQ_RULES)?.remove(id)?.is_some();
    if !existed {
        return Err(DeviceError::UnknownRule(id));
    }
    txn.commit()?;
    Ok(())
}

pub fn set_enabled(db: &redb::Database, id: u64, enabled: bool) -> Result<(), DeviceError> {
    let txn = db.begin_write()?;
    {
        let mut t = txn.open_table(ABQ_RULES)?;
        let mut rule: Rule = match t.get(id)? {
            Some(v) => tables::decode(ABQ_RULES.name(), id, v.value())?,
            None => return Err(DeviceError::UnknownRule(id)),
        };
        rule.enabled = enabled;
        t.insert(id, tables::encode(&rule).as_slice())?;
    }
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: u64, on: RuleOn, value: &str, action: Access) -> Rule {
        Rule {
            id,
            on,
            value: value.into(),
            action,
            enabled: true,
            description: String::new(),
        }
    }

    fn subject<'a>(os: &'a str, model: &'a str, ty: &'a str) -> Subject<'a> {
        Subject {
            user: "alice@example.com",
            os: Some(os),
            model: Some(model),
            device_type: ty,
        }
    }

    #[test]
    fn order_and_prefixes() {
        let s = subject("Android 14", "Pixel 8", "Android");
        let mut rules = vec![rule(1, RuleOn::Type, "Andr", Access::Quarantine)];
        assert_eq!(
            evaluate(&rules, Access::Allow, &s).access,
            Access::Quarantine
        );
        rules.push(rule(2, RuleOn::Model, "Pixel", Access::Allow));
        assert_eq!(evaluate(&rules, Access::Block, &s).access, Access::Allow);
        rules.push(rule(3, RuleOn::Os, "Android", Access::Block));
        assert_eq!(evaluate(&rules, Access::Allow, &s).access, Access::Block);
        // The longest prefix of the same kind wins.
        rules.push(rule(4, RuleOn::Os, "Android 1", Access::Quarantine));
        let d = evaluate(&rules, Access::Allow, &s);
        assert_eq!(d.access, Access::Quarantine);
        assert!(d.reason.contains("os rule 4"), "{}", d.reason);
        rules.push(rule(5, RuleOn::Domain, "Example.com", Access::Allow));
        assert_eq!(evaluate(&rules, Access::Block, &s).access, Access::Allow);
        rules.push(rule(6, RuleOn::User, "alice@example.com", Access::Block));
        assert_eq!(evaluate(&rules, Access::Allow, &s).access, Access::Block);
        // Disabled rules do not count.
        for r in &mut rules {
            r.enabled = false;
        }
        let d = evaluate(&rules, Access::Quarantine, &s);
        assert_eq!(d.access, Access::Quarantine);
        assert!(d.reason.starts_with("global"));
    }

    #[test]
    fn matching_is_case_sensitive() {
        let rules = vec![rule(1, RuleOn::Os, "android", Access::Block)];
        let s = subject("Android 14", "Pixel", "Android");
        assert_eq!(evaluate(&rules, Access::Allow, &s).access, Access::Allow);
        let rules = vec![rule(1, RuleOn::Type, "iPhone12", Access::Block)];
        let s = subject("iOS", "iPhone", "iPhone");
        // The rule value must be a prefix of the device's value, not the other way round.
        assert_eq!(evaluate(&rules, Access::Allow, &s).access, Access::Allow);
    }

    #[test]
    fn stored_rules() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("s.redb")).unwrap();
        assert!(rules(&db).unwrap().is_empty());
        assert_eq!(global(&db).unwrap(), Access::Allow);
        let r1 = add(&db, RuleOn::Os, "iOS", Access::Block, "no iPhones").unwrap();
        let r2 = add(&db, RuleOn::Domain, "Example.COM", Access::Allow, "").unwrap();
        assert_eq!((r1.id, r2.id), (1, 2));
        assert_eq!(r2.value, "example.com");
        assert!(add(&db, RuleOn::User, "nobody", Access::Allow, "").is_err());
        set_enabled(&db, 1, false).unwrap();
        assert!(!rules(&db).unwrap()[0].enabled);
        remove(&db, 1).unwrap();
        assert!(matches!(remove(&db, 1), Err(DeviceError::UnknownRule(1))));
        assert_eq!(rules(&db).unwrap().len(), 1);
        let mut edited = rules(&db).unwrap()[0].clone();
        edited.on = RuleOn::Domain;
        edited.value = "Other.ORG".into();
        edited.action = Access::Block;
        assert_eq!(update(&db, &edited).unwrap().value, "other.org");
        assert_eq!(rules(&db).unwrap()[0].action, Access::Block);
        edited.value = "a@b".into();
        assert!(update(&db, &edited).is_err());
        edited.id = 99;
        edited.value = "x.org".into();
        assert!(matches!(
            update(&db, &edited),
            Err(DeviceError::UnknownRule(99))
        ));
        set_global(&db, Access::Quarantine).unwrap();
        assert_eq!(global(&db).unwrap(), Access::Quarantine);
    }
}
