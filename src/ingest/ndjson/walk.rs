//! Reading one top-level JSON value from a stream without holding what need not be held: the hits
//! of a search response (`{"hits": {"hits": [...]}}`) and the elements of an array are
//! deserialized one at a time and handed to the [`Sink`] as they come, so a response with
//! millions of hits costs the memory of one hit. Anything else is either taken whole as a
//! [`Value`] (a document, for the sink to read as such) or, when the caller cannot hold it,
//! skipped unread.

use std::fmt;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::Sink;

/// What [`Walk`] did with a value.
#[derive(Debug)]
pub(super) enum Walked {
    /// It was a search response or an array: its hits or elements went to the sink.
    Streamed,
    /// Anything else, taken whole.
    Kept(Value),
    /// Anything else, skipped unread (the walk was told not to keep).
    Skipped,
}

/// Where in a search response the walk is: the shape it streams there.
#[derive(Debug, Clone, Copy)]
enum Level {
    /// A top-level value: an array is streamed; an object is walked for its `hits`.
    Top,
    /// The value of the top-level `hits`: an object walked for its own `hits`.
    Hits,
    /// The value of `hits.hits`: an array is streamed.
    HitList,
}

/// A [`DeserializeSeed`] for one top-level value, handing each hit or element to `sink` with
/// the value's line number. With `keep` false, values that are not streamed are skipped rather
/// than taken (a line too long to hold).
pub(super) struct Walk<'s, 'a> {
    sink: &'s mut Sink<'a>,
    line: u64,
    keep: bool,
    level: Level,
}

impl<'s, 'a> Walk<'s, 'a> {
    pub(super) fn new(sink: &'s mut Sink<'a>, line: u64, keep: bool) -> Self {
        Walk {
            sink,
            line,
            keep,
            level: Level::Top,
        }
    }

    fn other(self, value: Value) -> Walked {
        if self.keep {
            Walked::Kept(value)
        } else {
            Walked::Skipped
        }
    }

    /// Hands the elements of `seq` to the sink one by one.
    fn stream<'de, A: SeqAccess<'de>>(self, mut seq: A) -> Result<Walked, A::Error> {
        while let Some(item) = seq.next_element::<Value>()? {
            if let Err(e) = self.sink.value(item, self.line) {
                return Err(self.sink.stop(e));
            }
        }
        Ok(Walked::Streamed)
    }

    /// Walks an object for its `hits` member, one level down; the other members are taken (to
    /// make the object whole again if it turns out not to be a search response) or skipped.
    fn walk_hits<'de, A: MapAccess<'de>>(
        self,
        mut map: A,
        below: Level,
    ) -> Result<Walked, A::Error> {
        let mut kept = Map::new();
        let mut streamed = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "hits" && !streamed {
                let child = Walk {
                    sink: &mut *self.sink,
                    line: self.line,
                    keep: self.keep,
                    level: below,
                };
                match map.next_value_seed(child)? {
                    Walked::Streamed => streamed = true,
                    Walked::Kept(value) => {
                        kept.insert(key, value);
                    }
                    Walked::Skipped => {}
                }
            } else if self.keep && !streamed {
                kept.insert(key, map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(if streamed {
            Walked::Streamed
        } else {
            self.other(Value::Object(kept))
        })
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_> {
    type Value = Walked;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Walked, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_> {
    type Value = Walked;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Walked, A::Error> {
        match self.level {
            Level::Top | Level::HitList => self.stream(seq),
            Level::Hits if self.keep => {
                Ok(self.other(Value::deserialize(SeqAccessDeserializer::new(seq))?))
            }
            Level::Hits => {
                IgnoredAny::deserialize(SeqAccessDeserializer::new(seq))?;
                Ok(Walked::Skipped)
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Walked, A::Error> {
        match self.level {
            Level::Top => self.walk_hits(map, Level::Hits),
            Level::Hits => self.walk_hits(map, Level::HitList),
            Level::HitList if self.keep => {
                Ok(self.other(Value::deserialize(MapAccessDeserializer::new(map))?))
            }
            Level::HitList => {
                IgnoredAny::deserialize(MapAccessDeserializer::new(map))?;
                Ok(Walked::Skipped)
            }
        }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Walked, E> {
        Ok(self.other(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Walked, E> {
        Ok(self.other(Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Walked, E> {
        Ok(self.other(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Walked, E> {
        Ok(self.other(Value::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Walked, E> {
        Ok(self.other(Value::from(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Walked, E> {
        Ok(self.other(Value::Null))
    }
}
