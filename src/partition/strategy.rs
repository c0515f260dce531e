//! Strategies by name: what a cluster configuration or a command line says.
//!
//! A [`Strategy`] is a small `Copy` value naming a placement algorithm and its
//! parameters; [`Strategy::build`] turns it into a [`Partitioner`] over a set
//! of members. Its text form (`"modulo"`, `"ring"`, `"ring:256"`, `"jump"`,
//! `"rendezvous"`, `"maglev"`, `"maglev:<prime>"`, `"multiprobe"`,
//! `"multiprobe:<k>"`, `"bounded"`, `"bounded:<ε>"`) parses with [`str::parse`] and prints with `Display`, and a
//! partitioner's [`Partitioner::name`] is the same text, so results tables can
//! name the exact configuration that produced them.

use super::bounded_load::{DEFAULT_EPSILON, epsilon_permille};
use super::maglev::{DEFAULT_MAGLEV_TABLE, validate_table_size};
use super::multi_probe::{DEFAULT_PROBES, validate_probes};
use super::ring::DEFAULT_VNODES;
use super::{BoundedLoad, Jump, Maglev, Member, Modulo, MultiProbe, Partitioner, Rendezvous, Ring};
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
    /// Maglev's lookup table of `table_size` entries, a prime (Eisenbud et
    /// al., NSDI 2016) ([`Maglev`]).
    Maglev {
        /// Entries in the table; prime, at least the node count.
        table_size: u32,
    },
    /// Multi-probe consistent hashing: one ring point per node, `probes`
    /// hashes per key (Appleton & O'Reilly, 2015) ([`MultiProbe`]).
    /// Unweighted.
    MultiProbe {
        /// Probes per key, 1 to [`super::MAX_PROBES`].
        probes: u32,
    },
    /// Consistent hashing with bounded loads over the key space's slots,
    /// capacity (1+ε) × the average (Mirrokni, Thorup & Zadimoghaddam, SODA
    /// 2018) ([`BoundedLoad`]).
    BoundedLoad {
        /// ε in thousandths (250 = capacity 1.25 × the average).
        epsilon_permille: u32,
    },
}

impl Strategy {
    /// All seven strategies with their default parameters: handy for
    /// comparison tables.
    ///
    /// ```
    /// use replikv::partition::Strategy;
    /// let names: Vec<String> = Strategy::ALL.iter().map(|s| s.to_string()).collect();
    /// assert_eq!(
    ///     names,
    ///     ["modulo", "ring:256", "jump", "rendezvous", "maglev:65537", "multiprobe:21", "bounded:0.25"]
    /// );
    /// ```
    pub const ALL: [Strategy; 7] = [
        Strategy::Modulo,
        Strategy::Ring {
            vnodes: DEFAULT_VNODES,
        },
        Strategy::Jump,
        Strategy::Rendezvous,
        Strategy::Maglev {
            table_size: DEFAULT_MAGLEV_TABLE,
        },
        Strategy::MultiProbe {
            probes: DEFAULT_PROBES,
        },
        Strategy::BoundedLoad {
            epsilon_permille: 250,
        },
    ];

    /// The strategies that accept weights other than 1.
    ///
    /// ```
    /// use replikv::partition::Strategy;
    /// assert!(Strategy::Rendezvous.is_weighted());
    /// assert!(!Strategy::Jump.is_weighted());
    /// ```
    pub fn is_weighted(self) -> bool {
        matches!(
            self,
            Strategy::Ring { .. }
                | Strategy::Rendezvous
                | Strategy::Maglev { .. }
                | Strategy::BoundedLoad { .. }
        )
    }

    /// Checks the parameters: `Ring { vnodes: 0 }`, a Maglev table size
    /// that is not prime, 0 probes or an ε of 0 is an
    /// [`Error::InvalidConfig`].
    ///
    /// ```
    /// use replikv::partition::Strategy;
    /// assert!(Strategy::Ring { vnodes: 0 }.validate().is_err());
    /// assert!(Strategy::Ring { vnodes: 1 }.validate().is_ok());
    /// assert!(Strategy::Maglev { table_size: 1000 }.validate().is_err());
    /// assert!(Strategy::MultiProbe { probes: 0 }.validate().is_err());
    /// assert!(Strategy::BoundedLoad { epsilon_permille: 0 }.validate().is_err());
    /// ```
    pub fn validate(self) -> Result<()> {
        match self {
            Strategy::Ring { vnodes: 0 } => Err(Error::InvalidConfig(
                "the ring strategy needs at least 1 virtual node per node (vnodes = 0)".into(),
            )),
            Strategy::Maglev { table_size } => validate_table_size(table_size),
            Strategy::MultiProbe { probes } => validate_probes(probes),
            Strategy::BoundedLoad { epsilon_permille } => {
                epsilon_permille_of(epsilon_permille).map(|_| ())
            }
            _ => Ok(()),
        }
    }

    /// True for the consistent strategies (ring, jump, rendezvous,
    /// multi-probe): adding a node moves only the keys the new node takes,
    /// about `1/(m+1)` of them. False for modulo, which moves about
    /// `m/(m+1)`, and for Maglev and bounded loads, which move the new
    /// node's keys and a few more between old nodes.
    ///
    /// ```
    /// use replikv::partition::Strategy;
    /// assert!(Strategy::Jump.is_consistent());
    /// assert!(!Strategy::Modulo.is_consistent());
    /// assert!(!"maglev".parse::<Strategy>()?.is_consistent());
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn is_consistent(self) -> bool {
        matches!(
            self,
            Strategy::Ring { .. }
                | Strategy::Jump
                | Strategy::Rendezvous
                | Strategy::MultiProbe { .. }
        )
    }

    /// Builds this strategy over `members` (at least one, distinct).
    ///
    /// Errors with [`Error::InvalidConfig`] for invalid parameters, bad member
    /// lists, and weights other than 1 for modulo, jump and multi-probe,
    /// which cannot weight nodes.
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
            Strategy::Maglev { table_size } => Box::new(Maglev::new(members, table_size)?),
            Strategy::MultiProbe { probes } => Box::new(MultiProbe::new(members, probes)?),
            Strategy::BoundedLoad { epsilon_permille } => Box::new(BoundedLoad::new(
                members,
                epsilon_permille_of(epsilon_permille)?,
            )?),
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
            Strategy::Maglev { table_size } => write!(f, "maglev:{table_size}"),
            Strategy::MultiProbe { probes } => write!(f, "multiprobe:{probes}"),
            Strategy::BoundedLoad { epsilon_permille } => {
                write!(f, "bounded:{}", f64::from(*epsilon_permille) / 1000.0)
            }
        }
    }
}

impl FromStr for Strategy {
    type Err = Error;

    /// Parses `"modulo"`, `"ring"` (with [`DEFAULT_VNODES`]), `"ring:<vnodes>"`,
    /// `"jump"`, `"rendezvous"`, `"maglev"` (65,537 entries),
    /// `"maglev:<prime>"`, `"multiprobe"` (21 probes), `"multiprobe:<k>"`,
    /// `"bounded"` (ε = 0.25) or `"bounded:<ε>"`; anything else, or a
    /// parameter out of range, is an [`Error::InvalidConfig`] saying what is
    /// accepted.
    ///
    /// ```
    /// use replikv::partition::Strategy;
    /// assert_eq!("ring".parse::<Strategy>()?, Strategy::Ring { vnodes: 256 });
    /// assert_eq!("ring:64".parse::<Strategy>()?, Strategy::Ring { vnodes: 64 });
    /// assert_eq!("jump".parse::<Strategy>()?, Strategy::Jump);
    /// assert_eq!("maglev:251".parse::<Strategy>()?, Strategy::Maglev { table_size: 251 });
    /// assert_eq!("multiprobe".parse::<Strategy>()?, Strategy::MultiProbe { probes: 21 });
    /// assert_eq!("bounded:0.1".parse::<Strategy>()?, Strategy::BoundedLoad { epsilon_permille: 100 });
    /// assert!("ring:0".parse::<Strategy>().is_err());
    /// assert!("maglev:1000".parse::<Strategy>().is_err());
    /// assert!("consistent".parse::<Strategy>().is_err());
    /// # Ok::<(), replikv::Error>(())
    /// ```
    fn from_str(s: &str) -> Result<Self> {
        let integer = |what: &str, v: &str| -> Result<u32> {
            v.parse().map_err(|_| {
                Error::InvalidConfig(format!(
                    "strategy {s:?}: {what} must be an integer from 1 to {}",
                    u32::MAX
                ))
            })
        };
        let strategy = match s {
            "modulo" => Strategy::Modulo,
            "ring" => Strategy::Ring {
                vnodes: DEFAULT_VNODES,
            },
            "jump" => Strategy::Jump,
            "rendezvous" => Strategy::Rendezvous,
            "maglev" => Strategy::Maglev {
                table_size: DEFAULT_MAGLEV_TABLE,
            },
            "multiprobe" => Strategy::MultiProbe {
                probes: DEFAULT_PROBES,
            },
            "bounded" => Strategy::BoundedLoad {
                epsilon_permille: epsilon_permille(DEFAULT_EPSILON)?,
            },
            _ => match s.split_once(':') {
                Some(("ring", v)) => Strategy::Ring {
                    vnodes: integer("vnodes", v)?,
                },
                Some(("maglev", v)) => Strategy::Maglev {
                    table_size: integer("the table size", v)?,
                },
                Some(("multiprobe", v)) => Strategy::MultiProbe {
                    probes: integer("the probe count", v)?,
                },
                Some(("bounded", v)) => {
                    let epsilon: f64 = v.parse().map_err(|_| {
                        Error::InvalidConfig(format!(
                            "strategy {s:?}: ε must be a number such as 0.25"
                        ))
                    })?;
                    Strategy::BoundedLoad {
                        epsilon_permille: epsilon_permille(epsilon)?,
                    }
                }
                _ => {
                    return Err(Error::InvalidConfig(format!(
                        "unknown partitioning strategy {s:?}: expected modulo, ring, \
                         ring:<vnodes>, jump, rendezvous, maglev, maglev:<prime>, multiprobe, \
                         multiprobe:<probes>, bounded or bounded:<epsilon>"
                    )));
                }
            },
        };
        strategy.validate()?;
        Ok(strategy)
    }
}

/// ε from thousandths, checked against the accepted range.
fn epsilon_permille_of(permille: u32) -> Result<f64> {
    let epsilon = f64::from(permille) / 1000.0;
    epsilon_permille(epsilon).map(|_| epsilon)
}
