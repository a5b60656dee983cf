using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using FairNad.Architecture;
using FairNad.Llm;
using Microsoft.Extensions.AI;

namespace FairNad.Knowledge;

/// <summary>An attribute as the LLM proposed it for one reference model.</summary>
/// <param name="Listed">
/// The LLM named it as an attribute already in the tree that this model also uses (by id, in "present"), rather than
/// proposing it: it carries the listed attribute's name, description and effect, so the merge adds the reference to it.
/// </param>
public sealed record ExtractedAttribute(string Reference, string Category, string Name, string Description, string Effect, bool Listed = false);

/// <summary>One merge decision, for the report: kind is merged, moved, generalised, dropped, linked or filled.</summary>
public sealed record MergeDecision(string Kind, string Subject, string Reason);

/// <summary>A proposal the merge linked to a curated attribute by its name (it took that attribute's id and realisations).</summary>
public sealed record CuratedLink(ExtractedAttribute Proposal, AttributeNode Curated);

public sealed record ExtractionResult(AttributeTree Tree, IReadOnlyList<ExtractedAttribute> Proposed, IReadOnlyList<MergeDecision> Decisions, string Report);

/// <summary>
/// The Extract stage: for each reference description (in file-name order), ask the LLM (through <see cref="LlmSession"/>,
/// so every exchange is recorded and replayable) for attributes in the template's fixed categories as schema-constrained
/// JSON. Each prompt lists the attributes the tree already holds from the references before it and asks only for what
/// that list lacks, plus the ids of listed attributes the model also uses (the paper's "find what the list lacks" step).
/// The proposals are then merged deterministically with stated rules, and a report states every decision and compares
/// the result with the curated tree.
/// </summary>
public static partial class KnowledgeExtractor
{
    public const string Stage = "extract";

    /// <summary>At most this many new attributes per answer (and per reference).</summary>
    public const int MaxAttributes = 12;

    /// <summary>Names that tie an attribute to one model; an attribute carrying one is generalised (the name removed) or dropped.</summary>
    public static readonly IReadOnlyList<string> ModelSpecificTerms =
    [
        "resnet", "resnext", "densenet", "inception", "googlenet", "senet", "mobilenet", "shufflenet", "efficientnet", "convnext",
        "vit", "swin", "mixer", "efficientformer", "mobilevit", "efficientvit", "mbconv", "fused-mbconv", "shifted window",
    ];

    private static readonly List<string> CategoryIds = KnowledgeTemplate.Granularities.SelectMany(g => g.Categories).Select(c => c.Id).ToList();

    public static JsonElement Schema { get; } = JsonDocument.Parse(
        $$"""
        {
          "type": "object",
          "properties": {
            "present": { "type": "array", "items": { "type": "string" } },
            "attributes": {
              "type": "array",
              "minItems": 0,
              "maxItems": 12,
              "items": {
                "type": "object",
                "properties": {
                  "category": { "type": "string", "enum": [{{string.Join(", ", CategoryIds.Select(c => $"\"{c}\""))}}] },
                  "name": { "type": "string" },
                  "description": { "type": "string" },
                  "effect": { "type": "string", "enum": [{{string.Join(", ", KnowledgeTemplate.Effects.Select(e => $"\"{e}\""))}}] }
                },
                "required": ["category", "name", "description", "effect"]
              }
            }
          },
          "required": ["present", "attributes"]
        }
        """).RootElement.Clone();

    /// <summary>The prompt for the first reference, when the tree holds no attribute yet.</summary>
    public static IReadOnlyList<ChatMessage> Prompt(string reference, string description) => Prompt(reference, description, []);

    /// <summary>
    /// The prompt for one reference: the fixed two levels, the attributes the tree already holds (id, name, one-line
    /// description), the request for attributes that list lacks and for the listed ids the model also uses, an example,
    /// the constraints, and the description.
    /// </summary>
    public static IReadOnlyList<ChatMessage> Prompt(string reference, string description, IReadOnlyList<AttributeNode> known)
    {
        ArgumentNullException.ThrowIfNull(known);
        var template = new StringBuilder();
        foreach (var g in KnowledgeTemplate.Granularities)
        {
            template.Append(CultureInfo.InvariantCulture, $"- {g.Name}\n");
            foreach (var c in g.Categories)
            {
                template.Append(CultureInfo.InvariantCulture, $"  - {c.Id}: {c.Name}\n");
            }
        }

        var list = new StringBuilder();
        foreach (var a in known)
        {
            list.Append(CultureInfo.InvariantCulture, $"- {a.Id}: {a.Name}. {a.Description}\n");
        }

        var system =
            "You extract reusable neural-network design knowledge for architecture search. Organise it in this fixed template " +
            "(granularity, then main category id and name):\n" + template +
            (known.Count == 0
                ? "The attribute list is empty so far.\n"
                : "The attribute list already holds these attributes (id: name. description):\n" + list) +
            "Find what the list lacks: for the model described by the user, give in 'attributes' only design attributes the list does not " +
            "hold yet, and in 'present' the ids of listed attributes the model also uses. Each new attribute has a category id from the template, " +
            "a short name, one sentence describing the mechanism and why it helps, and the effect it aims at (" + string.Join(", ", KnowledgeTemplate.Effects) + ").\n" +
            "Constraints: be general, concise and specific. Describe mechanisms that transfer to other networks; never use model-specific " +
            "module or model names (say 'inverted bottleneck with depthwise convolution', not 'MBConv'). At most 12 new attributes; " +
            "do not repeat a listed attribute under another name.\n" +
            "Example (a list without a matching id): {\"present\": [], \"attributes\": [{\"category\": \"block.recalibration\", \"name\": \"Channel gating from global context\", " +
            "\"description\": \"Rescale channels by weights computed from globally pooled features, emphasising informative channels.\", \"effect\": \"accuracy\"}]}\n" +
            "Reply with JSON only, matching the schema.";
        return [new ChatMessage(ChatRole.System, system), new ChatMessage(ChatRole.User, $"Reference model: {reference}\n\n{description}")];
    }

    /// <summary>The first problem of an answer to the first prompt (nothing listed yet), or null when it is usable.</summary>
    public static string? Validate(JsonElement answer) => Validate(answer, new HashSet<string>(StringComparer.Ordinal));

    /// <summary>
    /// The first problem of an answer, or null when it is usable: 'present' (a missing one reads as empty) may hold only
    /// ids of <paramref name="known"/>, 'attributes' 0 to <see cref="MaxAttributes"/> well-formed items, and together they
    /// must say something (an answer naming nothing is asked again).
    /// </summary>
    public static string? Validate(JsonElement answer, IReadOnlySet<string> known)
    {
        ArgumentNullException.ThrowIfNull(known);
        if (answer.ValueKind != JsonValueKind.Object || !answer.TryGetProperty("attributes", out var list) || list.ValueKind != JsonValueKind.Array)
        {
            return "the answer must be an object with an 'attributes' array";
        }

        var present = 0;
        if (answer.TryGetProperty("present", out var ids))
        {
            if (ids.ValueKind != JsonValueKind.Array)
            {
                return "'present' must be an array of attribute ids from the list";
            }

            foreach (var id in ids.EnumerateArray())
            {
                if (id.ValueKind != JsonValueKind.String || !known.Contains(id.GetString()!))
                {
                    return known.Count == 0
                        ? $"present[{present}] is {id.GetRawText()}, but the list is empty; give 'present': []"
                        : $"present[{present}] is {id.GetRawText()}, which is not an id of the list";
                }

                present++;
            }
        }

        if (list.GetArrayLength() > MaxAttributes)
        {
            return $"'attributes' has {list.GetArrayLength()} items; give at most {MaxAttributes}";
        }

        if (list.GetArrayLength() == 0 && present == 0)
        {
            return "the answer names no attribute: give the listed ids the model uses in 'present' and what the list lacks in 'attributes'";
        }

        var i = 0;
        foreach (var item in list.EnumerateArray())
        {
            string? Field(string name) => item.ValueKind == JsonValueKind.Object && item.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            if (Field("category") is not { } category || !CategoryIds.Contains(category))
            {
                return $"attributes[{i}].category must be one of {string.Join(", ", CategoryIds)}";
            }

            if (Field("name") is not { Length: > 0 and <= 80 })
            {
                return $"attributes[{i}].name must be a non-empty string of at most 80 characters";
            }

            if (Field("description") is not { Length: > 0 and <= 300 })
            {
                return $"attributes[{i}].description must be one sentence of at most 300 characters";
            }

            if (Field("effect") is not { } effect || !KnowledgeTemplate.Effects.Contains(effect))
            {
                return $"attributes[{i}].effect must be one of {string.Join(", ", KnowledgeTemplate.Effects)}";
            }

            i++;
        }

        return null;
    }

    public static async Task<ExtractionResult> ExtractAsync(LlmSession session, string referencesDirectory, AttributeTree curated, CancellationToken cancel = default)
    {
        var files = Directory.GetFiles(referencesDirectory, "*.md").Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0)
        {
            throw new KnowledgeFormatException($"{referencesDirectory}: no reference descriptions (*.md)");
        }

        var proposed = new List<ExtractedAttribute>();
        // The folder named by its last three parts (knowledge/references/neutral), so the tree does not depend on where the stage ran.
        var parts = Path.TrimEndingDirectorySeparator(Path.GetFullPath(referencesDirectory)).Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        var sources = string.Join('/', parts.TakeLast(3));
        var working = new Provenance("extracted", "in progress", null, null);
        foreach (var file in files)
        {
            var reference = Path.GetFileNameWithoutExtension(file);
            // The list so far: the merge of the earlier proposals, with no category filled from the curated tree.
            var known = Merge(proposed, curated, working, [], fill: false).Tree.Attributes.Select(x => (x.Category, x.Attribute)).ToList();
            var ids = known.Select(k => k.Attribute.Id).ToHashSet(StringComparer.Ordinal);
            var answer = await session.AskJsonAsync(Stage, Prompt(reference, File.ReadAllText(file), known.Select(k => k.Attribute).ToList()), Schema, a => Validate(a, ids), cancel)
                .ConfigureAwait(false);
            if (answer.TryGetProperty("present", out var present))
            {
                foreach (var id in present.EnumerateArray().Select(p => p.GetString()!).Distinct(StringComparer.Ordinal))
                {
                    var (category, attribute) = known.First(k => k.Attribute.Id == id);
                    proposed.Add(new ExtractedAttribute(reference, category.Id, attribute.Name, attribute.Description, attribute.Effect, Listed: true));
                }
            }

            proposed.AddRange(answer.GetProperty("attributes").EnumerateArray().Select(a => new ExtractedAttribute(
                reference, a.GetProperty("category").GetString()!, a.GetProperty("name").GetString()!.Trim(), a.GetProperty("description").GetString()!.Trim(), a.GetProperty("effect").GetString()!)));
        }

        var provenance = new Provenance(
            "extracted",
            $"Extracted by {session.Model.Name} from {files.Count} reference descriptions in {sources} with temperature 0, seed {session.Settings.Seed}, top_k 1, num_ctx {session.Settings.ContextLength}, each prompt listing the attributes found so far; merged by KnowledgeExtractor (see merge-report.md).",
            session.Model.Name,
            session.Model.Digest);
        var links = new List<CuratedLink>();
        var (tree, decisions) = Merge(proposed, curated, provenance, links);
        return new ExtractionResult(tree, proposed, decisions, Report(tree, proposed, decisions, session) + Audit(proposed, tree, links) + Comparison(tree, curated));
    }

    /// <summary>
    /// Merges proposals deterministically:
    /// 1. a name holding a model-specific term is generalised by removing the term, or dropped when too little is left;
    /// 2. proposals with the same normalised name are one attribute, its references the union;
    /// 3. an attribute proposed in several categories goes to the category most references chose, ties to the one first in the template;
    /// 4. the description and effect come from the alphabetically first reference that proposed it in the chosen category;
    /// 5. an attribute whose name shares at least half its words with a curated attribute of the same category takes that
    ///    attribute's id and realisations (linked); others get a new id and no realisation (left to the LLM-driven mutation);
    /// 6. a category left empty is filled with the curated tree's attributes for it, and the report says so.
    /// </summary>
    public static (AttributeTree Tree, IReadOnlyList<MergeDecision> Decisions) Merge(IReadOnlyList<ExtractedAttribute> proposed, AttributeTree curated, Provenance provenance) =>
        Merge(proposed, curated, provenance, []);

    /// <summary>As <see cref="Merge(IReadOnlyList{ExtractedAttribute}, AttributeTree, Provenance)"/>, adding to <paramref name="links"/> every proposal linked to a curated attribute.</summary>
    public static (AttributeTree Tree, IReadOnlyList<MergeDecision> Decisions) Merge(IReadOnlyList<ExtractedAttribute> proposed, AttributeTree curated, Provenance provenance, List<CuratedLink> links) =>
        Merge(proposed, curated, provenance, links, fill: true);

    /// <summary>As above; with <paramref name="fill"/> false (the list a prompt shows) a category nobody proposed for stays empty.</summary>
    private static (AttributeTree Tree, IReadOnlyList<MergeDecision> Decisions) Merge(IReadOnlyList<ExtractedAttribute> proposed, AttributeTree curated, Provenance provenance, List<CuratedLink> links, bool fill)
    {
        ArgumentNullException.ThrowIfNull(links);
        var decisions = new List<MergeDecision>();
        var kept = new List<ExtractedAttribute>();
        foreach (var p in proposed)
        {
            var term = ModelSpecificTerms.FirstOrDefault(t => Regex.IsMatch(p.Name, $@"\b{Regex.Escape(t)}\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant));
            if (term is null)
            {
                kept.Add(p);
                continue;
            }

            var general = Spaces().Replace(Regex.Replace(p.Name, $@"\b{Regex.Escape(term)}\b", string.Empty, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant), " ").Trim(' ', '-', '(', ')');
            if (Words(general).Count >= 2)
            {
                decisions.Add(new("generalised", $"'{p.Name}' ({p.Reference})", $"removed the model-specific term '{term}': '{general}'"));
                kept.Add(p with { Name = general });
            }
            else
            {
                decisions.Add(new("dropped", $"'{p.Name}' ({p.Reference})", $"model-specific ('{term}') with nothing general left"));
            }
        }

        var curatedByCategory = curated.Granularities.SelectMany(g => g.Categories).ToDictionary(c => c.Id, StringComparer.Ordinal);
        var attributes = new Dictionary<string, List<AttributeNode>>(StringComparer.Ordinal);
        foreach (var group in kept.GroupBy(p => Normalise(p.Name), StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var votes = group.GroupBy(p => p.Category).Select(g => (Category: g.Key, References: g.Select(x => x.Reference).Distinct().Count()))
                .OrderByDescending(v => v.References).ThenBy(v => CategoryIds.IndexOf(v.Category)).ToList();
            var category = votes[0].Category;
            if (votes.Count > 1)
            {
                decisions.Add(new("moved", $"'{group.First().Name}'", $"proposed in {string.Join(", ", votes.Select(v => $"{v.Category} ({v.References})"))}; placed in {category} by majority, ties to the earlier template category"));
            }

            var references = group.Select(p => p.Reference).Distinct().Order(StringComparer.Ordinal).ToList();
            if (references.Count > 1)
            {
                decisions.Add(new("merged", $"'{group.First().Name}'", $"proposed for {references.Count} references: {string.Join(", ", references)}"));
            }

            var first = group.Where(p => p.Category == category).OrderBy(p => p.Reference, StringComparer.Ordinal).First();
            var match = curatedByCategory[category].Attributes
                .Select(a => (Attribute: a, Overlap: Overlap(first.Name, a.Name)))
                .Where(x => x.Overlap >= 0.5).OrderByDescending(x => x.Overlap).ThenBy(x => x.Attribute.Id, StringComparer.Ordinal).Select(x => x.Attribute).FirstOrDefault();
            string id;
            IReadOnlyList<Realisation> realisations;
            if (match is not null)
            {
                id = match.Id;
                realisations = match.Realisations;
                links.Add(new CuratedLink(first, match));
                decisions.Add(new("linked", $"'{first.Name}'", $"matches curated attribute {match.Id}; takes its {match.Realisations.Count} realisation(s)"));
            }
            else
            {
                id = $"{category}.{Slug(first.Name)}";
                realisations = [];
            }

            var list = attributes.TryGetValue(category, out var existing) ? existing : attributes[category] = [];
            if (list.FirstOrDefault(a => a.Id == id) is { } twin)
            {
                // Two names linked to one curated attribute: one attribute with both proposals' references.
                list[list.IndexOf(twin)] = twin with { References = twin.References.Union(references).Order(StringComparer.Ordinal).ToList() };
                decisions.Add(new("merged", $"'{first.Name}'", $"links to {id} like '{twin.Name}'; kept as one attribute"));
                continue;
            }

            list.Add(new AttributeNode(id, first.Name, first.Description, first.Effect, references, realisations));
        }

        var granularities = KnowledgeTemplate.Granularities.Select(g => g with
        {
            Categories = g.Categories.Select(c =>
            {
                if (attributes.TryGetValue(c.Id, out var list) && list.Count > 0)
                {
                    return c with { Attributes = list.OrderBy(a => a.Id, StringComparer.Ordinal).ToList() };
                }

                if (!fill)
                {
                    return c with { Attributes = [] };
                }

                decisions.Add(new("filled", c.Id, $"no attribute was proposed for this category; filled with the curated tree's {curatedByCategory[c.Id].Attributes.Count} attribute(s)"));
                return c with { Attributes = curatedByCategory[c.Id].Attributes };
            }).ToList(),
        }).ToList();
        return (new AttributeTree(AttributeTree.CurrentSchema, provenance, granularities), decisions);
    }

    private static string Report(AttributeTree tree, IReadOnlyList<ExtractedAttribute> proposed, IReadOnlyList<MergeDecision> decisions, LlmSession session)
    {
        var text = new StringBuilder();
        text.Append("# Knowledge extraction: merge report\n\n");
        text.Append(CultureInfo.InvariantCulture, $"- Model: {session.Model.Name} ({session.Model.Digest}), {session.Model.Family} {session.Model.ParameterSize} {session.Model.Quantization}\n");
        var fresh = proposed.Where(p => !p.Listed).ToList();
        text.Append(CultureInfo.InvariantCulture, $"- Proposed: {fresh.Count} attributes from {fresh.Select(p => p.Reference).Distinct().Count()} references\n");
        text.Append(CultureInfo.InvariantCulture, $"- Listed as present: {proposed.Count - fresh.Count} uses of an attribute already in the list by a later reference\n");
        text.Append(CultureInfo.InvariantCulture, $"- Tree: {tree.Attributes.Count()} attributes, {tree.Attributes.Count(a => a.Attribute.Realisations.Count > 0)} with a realisation\n\n");
        text.Append("| decision | subject | reason |\n|---|---|---|\n");
        foreach (var d in decisions)
        {
            text.Append(CultureInfo.InvariantCulture, $"| {d.Kind} | {d.Subject.Replace("|", "/", StringComparison.Ordinal)} | {d.Reason.Replace("|", "/", StringComparison.Ordinal)} |\n");
        }

        return text.ToString();
    }

    /// <summary>
    /// Below this Jaccard overlap of stemmed content words, a proposal's description is reported as not describing the
    /// curated attribute its name linked it to: at 0.1 the two sentences share at most one content word in ten. It is a flag
    /// for a human to read, not a rule the merge applies, so it is set where it catches descriptions of another mechanism
    /// (a channel-shuffle sentence against depthwise-separable convolution shares only generic words and scores about 0.0
    /// to 0.11) while flagging few honest paraphrases (in the scripted fixtures 1 of 22 links: a terse "Keep an identity
    /// path around every block." scores 0.07; at 0.15 a second paraphrase, 0.13, would be flagged too). Descriptions that
    /// reuse generic words (channel, convolution) can pass it; the measure is deliberately simple and deterministic.
    /// </summary>
    public const double DescriptionMismatchThreshold = 0.1;

    /// <summary>Words that carry no mechanism, left out when descriptions are compared.</summary>
    private static readonly HashSet<string> DescriptionStopWords = new(
    [
        "a", "an", "the", "and", "or", "of", "with", "for", "to", "in", "on", "at", "by", "from", "into", "as", "is", "are", "be",
        "it", "its", "this", "that", "which", "each", "every", "so", "than", "more", "less", "while", "where", "per", "via",
        "using", "use", "uses", "helps", "help", "improves", "improve", "better", "can", "not", "no", "their", "them", "they",
    ], StringComparer.Ordinal);

    /// <summary>
    /// The checks the merge report ends with, which say what the merge rules do not: how many distinct names (compared as
    /// the merge compares them, <see cref="Normalise"/>) the proposals had and which were proposed more than once; names
    /// that appear in more than one main category of the tree; and proposals linked to a curated attribute by name whose
    /// description shares less than <see cref="DescriptionMismatchThreshold"/> (Jaccard overlap of stemmed content words)
    /// with the curated attribute's description.
    /// </summary>
    public static string Audit(IReadOnlyList<ExtractedAttribute> proposed, AttributeTree tree, IReadOnlyList<CuratedLink> links)
    {
        ArgumentNullException.ThrowIfNull(proposed);
        ArgumentNullException.ThrowIfNull(tree);
        ArgumentNullException.ThrowIfNull(links);
        var text = new StringBuilder();
        text.Append("\n## Checks\n\n");
        // Uses of a listed attribute (by id) name nothing new; only the LLM's own names are compared.
        var fresh = proposed.Where(p => !p.Listed).ToList();
        var names = fresh.GroupBy(p => Normalise(p.Name), StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        text.Append(CultureInfo.InvariantCulture, $"- Names: {names.Count} distinct attribute names in {fresh.Count} proposals\n");
        foreach (var g in names.Where(g => g.Count() > 1))
        {
            text.Append(CultureInfo.InvariantCulture, $"  - proposed {g.Count()} times: '{g.First().Name}' ({string.Join(", ", g.Select(p => p.Reference).Distinct().Order(StringComparer.Ordinal))})\n");
        }

        var cross = tree.CrossCategoryNames();
        text.Append(CultureInfo.InvariantCulture, $"- In more than one main category: {cross.Count} attribute name(s)\n");
        foreach (var warning in cross)
        {
            text.Append(CultureInfo.InvariantCulture, $"  - {warning}\n");
        }

        var mismatches = links.Select(l => (Link: l, Overlap: DescriptionOverlap(l.Proposal.Description, l.Curated.Description)))
            .Where(x => x.Overlap < DescriptionMismatchThreshold).ToList();
        text.Append(CultureInfo.InvariantCulture, $"- Name/description mismatches (description overlap with the linked curated attribute below {DescriptionMismatchThreshold.ToString("0.##", CultureInfo.InvariantCulture)}): {mismatches.Count} of {links.Count} links\n");
        foreach (var (link, overlap) in mismatches)
        {
            text.Append(CultureInfo.InvariantCulture, $"  - '{link.Proposal.Name}' ({link.Proposal.Reference}) linked to {link.Curated.Id} by name, but its description overlaps {overlap.ToString("0.00", CultureInfo.InvariantCulture)}: \"{link.Proposal.Description}\" vs \"{link.Curated.Description}\"\n");
        }

        return text.ToString();
    }

    /// <summary>
    /// The report's comparison with the curated tree (the baseline): which curated attributes the extracted tree holds
    /// (linked by name, or filled into an empty category) and which it lacks, and the extracted attributes without a
    /// realisation, flagged: only LLM-driven mutation can realise them, which it does when the search first draws one.
    /// </summary>
    public static string Comparison(AttributeTree tree, AttributeTree curated)
    {
        ArgumentNullException.ThrowIfNull(tree);
        ArgumentNullException.ThrowIfNull(curated);
        var ids = tree.Attributes.Select(x => x.Attribute.Id).ToHashSet(StringComparer.Ordinal);
        var baseline = curated.Attributes.Select(x => x.Attribute.Id).ToList();
        var missing = baseline.Where(id => !ids.Contains(id)).ToList();
        var unrealised = tree.Attributes.Where(x => x.Attribute.Realisations.Count == 0).Select(x => x.Attribute.Id).ToList();
        var text = new StringBuilder();
        text.Append("\n## Compared with the curated tree\n\n");
        text.Append(CultureInfo.InvariantCulture, $"- Curated attributes in the extracted tree: {baseline.Count - missing.Count} of {baseline.Count}\n");
        text.Append(CultureInfo.InvariantCulture, $"- Curated attributes the extraction did not find: {missing.Count}{(missing.Count == 0 ? string.Empty : ": " + string.Join(", ", missing))}\n");
        text.Append(CultureInfo.InvariantCulture, $"- Extracted attributes not in the curated tree: {ids.Count(id => !baseline.Contains(id))}\n");
        text.Append(CultureInfo.InvariantCulture, $"- Without a realisation (flagged: LLM-driven mutation realises them on first use; the rule-based mutations skip them): {unrealised.Count}\n");
        foreach (var id in unrealised)
        {
            text.Append(CultureInfo.InvariantCulture, $"  - {id}\n");
        }

        return text.ToString();
    }

    /// <summary>Jaccard overlap of the two descriptions' lowercase content words, each stemmed by <see cref="Stem"/>.</summary>
    public static double DescriptionOverlap(string a, string b)
    {
        HashSet<string> Content(string text) => NonWord().Split(text.ToLowerInvariant()).Where(w => w.Length > 1 && !DescriptionStopWords.Contains(w)).Select(Stem).ToHashSet(StringComparer.Ordinal);
        var x = Content(a);
        var y = Content(b);
        return x.Count == 0 || y.Count == 0 ? 0 : (double)x.Intersect(y).Count() / x.Union(y).Count();
    }

    internal static string Normalise(string name) => string.Join(' ', Words(name));

    private static List<string> Words(string text) =>
        NonWord().Split(text.ToLowerInvariant()).Where(w => w.Length > 0 && w is not ("and" or "the" or "a" or "of" or "with" or "for")).ToList();

    private static double Overlap(string a, string b)
    {
        var x = Words(a).Select(Stem).ToHashSet(StringComparer.Ordinal);
        var y = Words(b).Select(Stem).ToHashSet(StringComparer.Ordinal);
        return x.Count == 0 || y.Count == 0 ? 0 : (double)x.Intersect(y).Count() / x.Union(y).Count();
    }

    private static string Stem(string word) => word.Length > 4 && word.EndsWith('s') ? word[..^1] : word;

    private static string Slug(string name) => string.Join('-', Words(name));

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();

    [GeneratedRegex(@"[^a-z0-9]+")]
    private static partial Regex NonWord();
}
