//! A project's items as the fields of its hash: `m` (the meta), `u:<user>`
//! (a membership), `s:<slide>`, `b:<slide>:<block>`, each valued
//! `<version>:<tag>:<json>`, or `d:<tag>:` once deleted. Fields that start
//! with `_` are the hash's own bookkeeping. The served tree is assembled
//! from these values as they are: only slide positions are parsed, and a
//! block's place is its field's name.

use std::collections::HashMap;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tessera_core::UserId;
use tessera_core::content::{Block, ProjectRole, SlideId};

use crate::store::{Member, Project, ProjectImage, Slide};

/// One item, as a write-through or a load puts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub field: String,
    /// The item's version, or `d` for a deletion.
    pub version: String,
    pub json: String,
}

const DELETED: &str = "d";

impl Entry {
    pub fn project(project: &Project) -> anyhow::Result<Self> {
        Self::of("m".into(), project.version, project)
    }

    /// Memberships have no version: they change only through a reset.
    pub fn member(member: &Member) -> anyhow::Result<Self> {
        Self::of(member_field(&member.user_id), 0, member)
    }

    pub fn slide(slide: &Slide) -> anyhow::Result<Self> {
        Self::of(format!("s:{}", slide.id), slide.version, slide)
    }

    pub fn block(block: &Block) -> anyhow::Result<Self> {
        Self::of(block_field(block), block.version, block)
    }

    pub fn deleted_slide(slide: &SlideId) -> Self {
        Self::deleted(format!("s:{slide}"))
    }

    pub fn deleted_block(block: &Block) -> Self {
        Self::deleted(block_field(block))
    }

    /// Every item of a project as loaded.
    pub fn all_of(image: &ProjectImage) -> anyhow::Result<Vec<Self>> {
        let mut entries = vec![Self::project(&image.project)?];
        for member in &image.members {
            entries.push(Self::member(member)?);
        }
        for slide in &image.slides {
            entries.push(Self::slide(slide)?);
        }
        for block in &image.blocks {
            entries.push(Self::block(block)?);
        }
        Ok(entries)
    }

    fn of(field: String, version: u64, item: &impl Serialize) -> anyhow::Result<Self> {
        Ok(Self { field, version: version.to_string(), json: serde_json::to_string(item)? })
    }

    fn deleted(field: String) -> Self {
        Self { field, version: DELETED.into(), json: String::new() }
    }
}

pub fn member_field(user: &UserId) -> String {
    format!("u:{user}")
}

fn block_field(block: &Block) -> String {
    format!("b:{}:{}", block.slide_id, block.id)
}

/// The served tree (`ProjectTree`'s JSON, as `ProjectImage::into_tree`
/// orders it) from a hash's fields and values; `None` when the hash holds
/// no project (a deleted one).
pub fn tree_json(pairs: &[(String, String)]) -> anyhow::Result<Option<String>> {
    let mut meta = None;
    let mut slides = Vec::new();
    let mut blocks: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
    let mut size = 0;
    for (field, value) in pairs {
        let Some(json) = live_json(field, value) else { continue };
        size += json.len() + 16;
        if field == "m" {
            meta = Some(json);
        } else if let Some(id) = field.strip_prefix("s:") {
            let Positioned { position } =
                serde_json::from_str(json).with_context(|| format!("reading the cached `{field}`"))?;
            slides.push((position, id, json));
        } else if let Some((slide, id)) = field.strip_prefix("b:").and_then(|rest| rest.split_once(':')) {
            blocks.entry(slide).or_default().push((id, json));
        } else if !field.starts_with("u:") {
            anyhow::bail!("an unknown cached field `{field}`");
        }
    }
    let Some(meta) = meta else { return Ok(None) };
    slides.sort_unstable();
    let mut tree = String::with_capacity(size + 32);
    tree.push_str(r#"{"project":"#);
    tree.push_str(meta);
    tree.push_str(r#","slides":["#);
    for (n, (_, id, json)) in slides.into_iter().enumerate() {
        let fields = json.strip_suffix('}').with_context(|| format!("the cached slide `{id}` is no object"))?;
        let mut own = blocks.remove(id).unwrap_or_default();
        own.sort_unstable();
        tree.push_str(if n == 0 { "" } else { "," });
        tree.push_str(fields);
        tree.push_str(r#","blocks":["#);
        for (m, (_, block)) in own.into_iter().enumerate() {
            tree.push_str(if m == 0 { "" } else { "," });
            tree.push_str(block);
        }
        tree.push_str("]}");
    }
    tree.push_str("]}");
    Ok(Some(tree))
}

#[derive(Deserialize)]
struct Positioned {
    position: String,
}

/// A membership's value: the role, or `None` for no value.
pub fn decode_role(value: &str) -> anyhow::Result<Option<ProjectRole>> {
    let Some(json) = live_json("u", value) else { return Ok(None) };
    Ok(Some(serde_json::from_str::<Member>(json).context("reading a cached membership")?.role))
}

/// The JSON of an item's value; `None` for bookkeeping and deletions.
fn live_json<'a>(field: &str, value: &'a str) -> Option<&'a str> {
    if field.starts_with('_') {
        return None;
    }
    let mut parts = value.splitn(3, ':');
    let version = parts.next()?;
    let _tag = parts.next()?;
    let json = parts.next()?;
    (version != DELETED).then_some(json)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;
    use tessera_core::content::{BlockId, ProjectId};

    use super::*;

    fn id<T>(parse: fn(&str) -> Result<T, tessera_core::content::InvalidId>) -> T {
        parse(&ulid::Ulid::new().to_string()).unwrap()
    }

    fn slide(project: &ProjectId, position: &str) -> Slide {
        Slide {
            id: id(SlideId::parse),
            project_id: project.clone(),
            title: format!("at {position}"),
            position: position.into(),
            version: 2,
            created_at: String::new(),
            updated_at: String::new(),
            updated_by: UserId::parse("alice").unwrap(),
        }
    }

    fn block(slide: &Slide, content: &str) -> Block {
        Block {
            id: id(BlockId::parse),
            project_id: slide.project_id.clone(),
            slide_id: slide.id.clone(),
            kind: "text".into(),
            content: json!(content),
            props: BTreeMap::new(),
            version: 5,
            field_versions: BTreeMap::from([("content".into(), 5)]),
            created_at: String::new(),
            updated_at: String::new(),
            updated_by: slide.updated_by.clone(),
        }
    }

    /// Slides out of order (bytewise: `V` < `a`), three blocks on one, a
    /// block whose slide is gone, awkward content.
    fn image() -> ProjectImage {
        let alice = UserId::parse("alice").unwrap();
        let project = Project {
            id: id(ProjectId::parse),
            title: "Deck".into(),
            version: 3,
            created_at: "2026-11-24T00:00:00Z".into(),
            updated_at: "2026-11-24T00:00:00Z".into(),
            updated_by: alice.clone(),
        };
        let slides = vec![slide(&project.id, "a0"), slide(&project.id, "V"), slide(&project.id, "a0V")];
        let orphan = slide(&project.id, "b");
        let blocks = vec![
            block(&slides[2], "a: colon"),
            block(&slides[0], "\"quoted\""),
            block(&slides[2], "ünïcode"),
            block(&slides[2], "third"),
            block(&orphan, "left out"),
        ];
        let member = Member { user_id: alice, role: ProjectRole::Owner, added_at: String::new(), updated_by: None };
        ProjectImage { project, members: vec![member], slides, blocks }
    }

    /// A hash as the scripts leave it: entries tagged 7, plus bookkeeping.
    fn stored(entries: &[Entry]) -> Vec<(String, String)> {
        let mut hash: Vec<(String, String)> =
            entries.iter().map(|e| (e.field.clone(), format!("{}:7:{}", e.version, e.json))).collect();
        hash.push(("_seq".into(), "9".into()));
        hash.push(("_loaded".into(), "1700000000000".into()));
        hash
    }

    #[test]
    fn the_tree_assembled_from_entries_is_the_tree_of_the_image() {
        let image = image();

        let assembled = tree_json(&stored(&Entry::all_of(&image).unwrap())).unwrap().unwrap();

        let assembled: serde_json::Value = serde_json::from_str(&assembled).unwrap();
        assert_eq!(assembled, serde_json::to_value(image.into_tree()).unwrap());
        assert_eq!(assembled["slides"][0]["position"], "V");
        assert_eq!(assembled["slides"][2]["blocks"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn deleted_items_are_left_out_and_no_meta_means_no_project() {
        let image = image();
        let mut entries = Entry::all_of(&image).unwrap();
        entries.retain(|e| !e.field.starts_with("b:"));
        entries.push(Entry::deleted_block(&image.blocks[1]));

        let assembled = tree_json(&stored(&entries)).unwrap().unwrap();
        entries.retain(|e| e.field != "m");

        assert!(!assembled.contains("quoted"), "{assembled}");
        assert_eq!(tree_json(&stored(&entries)).unwrap(), None);
    }

    #[test]
    fn an_unknown_field_is_an_error_not_a_silent_gap() {
        let mut hash = stored(&Entry::all_of(&image()).unwrap());
        hash.push(("x:1".into(), "1:7:{}".into()));

        assert!(tree_json(&hash).is_err());
    }

    #[test]
    fn a_membership_value_gives_its_role_and_nothing_or_a_deletion_gives_none() {
        let member = Entry::member(&image().members[0]).unwrap();

        assert_eq!(decode_role(&format!("0:3:{}", member.json)).unwrap(), Some(ProjectRole::Owner));
        assert_eq!(decode_role("").unwrap(), None);
        assert_eq!(decode_role("d:4:").unwrap(), None);
    }
}
