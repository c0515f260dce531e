//! Strategies by name: what a cluster configuration or a command line says.
//!
//! A [`Strategy`] is a small `Copy` value naming a placement algorithm and its
//! parameters; [`Strategy::build`] turns it into a [`Partitioner`] over a set
//! of members. Its text form (`"modulo"`, `"ring"`, `"ring:256"`, `"jump"`,
//! `"rendezvous"`) parses with [`str::parse`] and prints with `Display`, and a
//! partitioner's [`Partitioner::name`] is the same text, so results tables can
//! name the exact configuration that produced them.

use super::ring::DEFAULT_VNODES;
use super::{Jump, Member, Modulo, Partitioner, Rendezvous, Ring};
use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// The strategies the cluster builder knows by name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Strategy {
    /// `hash mod node_count`; moves most keys when membership changes
    /// ([`Modulo`]). Unweighted.
    Modulo,
    /// Consistent hashing on a ring with `vnodes` virtual nodes per unit of
    /// weight (Karger et al. 1997; Dynamo) ([`Ring`]).
    Ring {
        /// Points per node of weight 1; at least 1.
        vnodes: u32,
    },
    /// Jump consistent hash (Lamping & Veach 2014) ([`Jump`]). Unweighted,
    /// and only the last-added node can be removed.
    Jump,
    /// Highest random weight (Thaler & Ravishankar, 1998) ([`Rendezvous`]).
    #[default]
    Rendezvous,
}

impl Strategy {
    /// All four strategies, the ring with [`DEFAULT_VNODES`]: handy for
    /// comparison tables.
    ///
    /// ```
    /// use replikv::partition::Strategy;
    /// let names: Vec<String> = Strategy::ALL.iter().map(|s| s.to_string()).collect();
    /// assert_eq!(names, ["modulo", "ring:256", "jump", "rendezvous"]);
    /// ```
    pub const ALL: [Strategy; 4] = [
        Strategy::Modulo,
        Strategy::Ring {
            vnodes: DEFAULT_VNODES,
        },
        Strategy::Jump,
        Strategy::Rendezvous,
    ];

    /// Checks the parameters: `Ring { vnodes: 0 }` is an
    /// [`Error::InvalidConfig`].
    ///
    /// ```
    /// use replikv::partition::Strategy;
    /// assert!(Strategy::Ring { vnodes: 0 }.validate().is_err());
    /// assert!(Strategy::Ring { vnodes: 1 }.validate().is_ok());
    /// ```
    pub fn validate(self) -> Result<()> {
        match self {
            Strategy::Ring { vnodes: 0 } => Err(Error::InvalidConfig(
                "the ring strategy needs at least 1 virtual node per node (vnodes = 0)".into(),
            )),
            _ => Ok(()),
        }
    }

    /// True for the consistent strategies (ring, jump, rendezvous): adding a
    /// node moves only the keys the new node takes, about `1/(m+1)` of them.
    /// False for modulo, which moves about `m/(m+1)`.
    ///
    /// ```
    /// use replikv::partition::Strategy;
    /// assert!(Strategy::Jump.is_consistent());
    /// assert!(!Strategy::Modulo.is_consistent());
    /// ```
    pub fn is_consistent(self) -> bool {
        !matches!(self, Strategy::Modulo)
    }

    /// Builds this strategy over `members` (at least one, distinct).
    ///
    /// Errors with [`Error::InvalidConfig`] for invalid parameters, bad member
    /// lists, and weights other than 1 for modulo and jump, which cannot
    /// weight nodes.
    ///
    /// ```
    /// // The same members under each strategy; every list has 3 distinct nodes.
    /// use replikv::partition::{Member, Strategy};
    /// use replikv::NodeId;
    /// let nodes: Vec<Member> = (0..5).map(|i| Member::new(NodeId(i))).collect();
    /// for strategy in Strategy::ALL {
    ///     let p = strategy.build(&nodes)?;
    ///     assert_eq!(p.name(), strategy.to_string());
    ///     let mut list = p.preference_list(b"user:42", 3);
    ///     list.sort();
    ///     list.dedup();
    ///     assert_eq!(list.len(), 3);
    /// }
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn build(self, members: &[Member]) -> Result<Box<dyn Partitioner>> {
        self.validate()?;
        Ok(match self {
            Strategy::Modulo => Box::new(Modulo::new(members)?),
            Strategy::Ring { vnodes } => Box::new(Ring::new(members, vnodes)?),
            Strategy::Jump => Box::new(Jump::new(members)?),
            Strategy::Rendezvous => Box::new(Rendezvous::new(members)?),
        })
    }
}

impl fmt::Display for Strategy {
    /// The text form, which [`Strategy::from_str`] reads back; the ring
    /// always shows its vnodes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Modulo => f.write_str("modulo"),
            Strategy::Ring { vnodes } => write!(f, "ring:{vnodes}"),
            Strategy::Jump => f.write_str("jump"),
            Strategy::Rendezvous => f.write_str("rendezvous"),
        }
    }
}

impl FromStr for Strategy {
    type Err = Error;

    /// Parses `"modulo"`, `"ring"` (with [`DEFAULT_VNODES`]), `"ring:<vnodes>"`,
    /// `"jump"` or `"rendezvous"`; anything else, or `vnodes` that is not a
    /// positive integer, is an [`Error::InvalidConfig`] saying what is accepted.
    ///
    /// ```
    /// use replikv::partition::Strategy;
    /// assert_eq!("ring".parse::<Strategy>()?, Strategy::Ring { vnodes: 256 });
    /// assert_eq!("ring:64".parse::<Strategy>()?, Strategy::Ring { vnodes: 64 });
    /// assert_eq!("jump".parse::<Strategy>()?, Strategy::Jump);
    /// assert!("ring:0".parse::<Strategy>().is_err());
    /// assert!("consistent".parse::<Strategy>().is_err());
    /// # Ok::<(), replikv::Error>(())
    /// ```
    fn from_str(s: &str) -> Result<Self> {
        let strategy = match s {
            "modulo" => Strategy::Modulo,
            "ring" => Strategy::Ring {
                vnodes: DEFAULT_VNODES,
            },
            "jump" => Strategy::Jump,
            "rendezvous" => Strategy::Rendezvous,
            _ => match s.strip_prefix("ring:") {
                Some(v) => Strategy::Ring {
                    vnodes: v.parse().map_err(|_| {
                        Error::InvalidConfig(format!(
                            "strategy {s:?}: vnodes must be an integer from 1 to {}",
                            u32::MAX
                        ))
                    })?,
                },
                None => {
                    return Err(Error::InvalidConfig(format!(
                        "unknown partitioning strategy {s:?}: expected modulo, ring, \
                         ring:<vnodes>, jump or rendezvous"
                    )));
                }
            },
        };
        strategy.validate()?;
        Ok(strategy)
    }
}
