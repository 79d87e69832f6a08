//! The built-in provider: no network, the same answer for the same prompt,
//! streamed in chunks with a set delay, so local runs and tests see real
//! streaming and timing without an AI service.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt as _, stream};
use tessera_core::generation::GenerationKind;

use super::{Chunk, Chunks, GenerationRequest, Provider, ProviderError};

/// Words per text chunk: a few, as a model streams tokens.
const WORDS_PER_CHUNK: usize = 3;

#[derive(Debug, Clone)]
pub struct BuiltinProvider {
    chunk_delay: Duration,
}

impl BuiltinProvider {
    /// `chunk_delay` passes before each chunk.
    pub fn new(chunk_delay: Duration) -> Self {
        Self { chunk_delay }
    }
}

impl Provider for BuiltinProvider {
    fn generate(&self, request: GenerationRequest) -> Chunks {
        let chunks = match answer(&request) {
            Ok(chunks) => chunks.into_iter().map(Ok).collect(),
            Err(error) => vec![Err(error)],
        };
        let delay = self.chunk_delay;
        Box::pin(stream::iter(chunks).then(move |chunk| async move {
            tokio::time::sleep(delay).await;
            chunk
        }))
    }
}

/// The whole answer, already in chunks.
fn answer(request: &GenerationRequest) -> Result<Vec<Chunk>, ProviderError> {
    let topic = request.prompt.split_whitespace().collect::<Vec<_>>().join(" ");
    if topic.is_empty() {
        return Err(ProviderError::permanent("the prompt is empty"));
    }
    let text = match request.kind {
        GenerationKind::Text => text(&topic, request.context.as_deref()),
        GenerationKind::Outline => outline(&topic),
        GenerationKind::Thinking => thinking(&topic),
        GenerationKind::Image => {
            return Ok(vec![Chunk::Image { media_type: "image/svg+xml", data: Bytes::from(picture(&topic)) }]);
        }
    };
    Ok(in_chunks(&text))
}

fn text(topic: &str, context: Option<&str>) -> String {
    let words = key_words(topic);
    let opening = match context {
        Some(before) if !before.trim().is_empty() => format!("{topic}, rewritten."),
        _ => format!("{topic}, in brief."),
    };
    format!("{opening} It starts with {}. It turns on {}. It ends with {}.", words[0], words[1], words[2])
}

/// One `# title` line per slide, each followed by `- point` lines.
fn outline(topic: &str) -> String {
    let words = key_words(topic);
    [
        format!("# {topic}\n- what {} means\n- why it matters now", words[0]),
        format!("# How {} works\n- the parts of {}\n- how they fit together", words[1], words[1]),
        format!("# Where {} leads\n- what to do next\n- what to watch for", words[2]),
    ]
    .join("\n")
}

fn thinking(topic: &str) -> String {
    let words = key_words(topic);
    format!(
        "Thinking about {topic}. First, what is {} here? Then, what follows from {}? \
         Weighing {} against the rest, one answer stands out. So: {topic}, step by step.",
        words[0], words[1], words[2]
    )
}

/// The prompt's three longest words (repeated when it has fewer).
fn key_words(topic: &str) -> [String; 3] {
    let mut words: Vec<&str> = topic.split_whitespace().collect();
    words.sort_by_key(|word| std::cmp::Reverse(word.chars().count()));
    let pick = |i: usize| words[i.min(words.len() - 1)].to_lowercase();
    [pick(0), pick(1), pick(2)]
}

fn in_chunks(text: &str) -> Vec<Chunk> {
    let pieces: Vec<&str> = text.split_inclusive(char::is_whitespace).collect();
    pieces.chunks(WORDS_PER_CHUNK).map(|words| Chunk::Text(words.concat())).collect()
}

/// An SVG whose colours come from the prompt, titled with it.
fn picture(topic: &str) -> String {
    let hash = topic.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let hue = hash % 360;
    let accent = (hue + 150) % 360;
    let radius = 80 + hash % 120;
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="640" height="400" viewBox="0 0 640 400"><title>{}</title><rect width="640" height="400" fill="hsl({hue},60%,85%)"/><circle cx="320" cy="200" r="{radius}" fill="hsl({accent},55%,45%)"/></svg>"#,
        escape_xml(topic)
    )
}

fn escape_xml(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&apos;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: GenerationKind, prompt: &str) -> GenerationRequest {
        GenerationRequest { kind, prompt: prompt.into(), context: None }
    }

    fn joined(chunks: &[Chunk]) -> String {
        chunks
            .iter()
            .map(|chunk| match chunk {
                Chunk::Text(text) => text.as_str(),
                Chunk::Image { .. } => panic!("a picture among text"),
            })
            .collect()
    }

    #[tokio::test]
    async fn text_streams_in_several_chunks_that_join_to_the_same_answer_every_time() {
        let provider = BuiltinProvider::new(Duration::ZERO);
        let ask = || request(GenerationKind::Text, "Quarterly   revenue growth");

        let streamed: Vec<Chunk> = provider.generate(ask()).map(Result::unwrap).collect().await;
        let again: Vec<Chunk> = provider.generate(ask()).map(Result::unwrap).collect().await;

        assert!(streamed.len() > 3, "{streamed:?}");
        assert_eq!(streamed, again);
        let text = joined(&streamed);
        assert!(text.starts_with("Quarterly revenue growth, in brief."), "{text}");
        assert!(text.contains("quarterly") && text.contains("revenue") && text.contains("growth"), "{text}");
    }

    #[test]
    fn an_outline_has_titled_slides_each_with_points() {
        let text = joined(&answer(&request(GenerationKind::Outline, "Solar power for cities")).unwrap());

        let titles: Vec<&str> = text.lines().filter(|line| line.starts_with("# ")).collect();
        assert_eq!(titles.len(), 3, "{text}");
        assert_eq!(titles[0], "# Solar power for cities");
        assert_eq!(text.lines().filter(|line| line.starts_with("- ")).count(), 6, "{text}");
    }

    #[test]
    fn a_rewrite_says_so_and_thinking_is_longer_than_text() {
        let mut rewrite = request(GenerationKind::Text, "tidy");
        rewrite.context = Some("an old sentence".into());
        let thinking = joined(&answer(&request(GenerationKind::Thinking, "tidy")).unwrap());

        assert!(joined(&answer(&rewrite).unwrap()).starts_with("tidy, rewritten."));
        assert!(thinking.len() > joined(&answer(&request(GenerationKind::Text, "tidy")).unwrap()).len());
    }

    #[test]
    fn an_image_is_one_svg_titled_with_the_escaped_prompt_and_coloured_by_it() {
        let draw = |prompt: &str| match answer(&request(GenerationKind::Image, prompt)).unwrap().as_slice() {
            [Chunk::Image { media_type, data }] => {
                assert_eq!(*media_type, "image/svg+xml");
                String::from_utf8(data.to_vec()).unwrap()
            }
            other => panic!("{other:?}"),
        };

        let svg = draw("cats & <dogs>");
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
        assert!(svg.contains("<title>cats &amp; &lt;dogs&gt;</title>"), "{svg}");
        assert_ne!(draw("a red sky"), draw("a green sea"));
    }

    #[tokio::test]
    async fn an_empty_prompt_is_refused_for_good() {
        let outcome: Vec<_> =
            BuiltinProvider::new(Duration::ZERO).generate(request(GenerationKind::Text, "  \n ")).collect().await;

        assert_eq!(outcome, vec![Err(ProviderError::permanent("the prompt is empty"))]);
    }
}
