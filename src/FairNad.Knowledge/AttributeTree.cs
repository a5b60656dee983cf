using System.Globalization;
using System.Text;
using System.Text.Json;
using FairNad.Architecture;
using FairNad.Architecture.Transforms;

namespace FairNad.Knowledge;

/// <summary>A knowledge file that cannot be read; the message names the file and the JSON path.</summary>
public sealed class KnowledgeFormatException(string message) : Exception(message);

/// <summary>How a tree was produced: curated by hand, or extracted by which model (with its digest) from which references.</summary>
public sealed record Provenance(string Method, string Description, string? Model, string? ModelDigest);

/// <summary>A named transform with parameters that realises an attribute on a spec.</summary>
public sealed record Realisation(string Transform, IReadOnlyDictionary<string, ParamValue> Params)
{
    public TransformResult Apply(ArchitectureSpec spec) => SpecTransforms.Apply(Transform, spec, Params);

    public override string ToString() =>
        Params.Count == 0 ? Transform : $"{Transform}({string.Join(", ", Params.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"))})";
}

/// <summary>One piece of design knowledge.</summary>
/// <param name="Id">Stable id, prefixed by its category id: operator.activation.hard-swish.</param>
/// <param name="Effect">What it aims at: accuracy, efficiency, optimisation or generalisation.</param>
/// <param name="References">Reference models it came from (file names under knowledge/references, without .md).</param>
/// <param name="Realisations">Ways the operator library realises it; empty means only the LLM-driven mutation can.</param>
public sealed record AttributeNode(string Id, string Name, string Description, string Effect, IReadOnlyList<string> References, IReadOnlyList<Realisation> Realisations);

public sealed record CategoryNode(string Id, string Name, IReadOnlyList<AttributeNode> Attributes);

public sealed record GranularityNode(string Id, string Name, IReadOnlyList<CategoryNode> Categories);

/// <summary>The attribute tree: fixed top two levels (<see cref="KnowledgeTemplate"/>), attributes below.</summary>
public sealed record AttributeTree(int Schema, Provenance Provenance, IReadOnlyList<GranularityNode> Granularities)
{
    public const int CurrentSchema = 1;

    public IEnumerable<(GranularityNode Granularity, CategoryNode Category, AttributeNode Attribute)> Attributes =>
        Granularities.SelectMany(g => g.Categories.SelectMany(c => c.Attributes.Select(a => (g, c, a))));

    public AttributeNode? Find(string id) => Attributes.Select(x => x.Attribute).FirstOrDefault(a => a.Id == id);

    /// <summary>Where the curated tree lives in the repository (it is compiled in from there).</summary>
    public const string CuratedPath = "knowledge/attribute-tree.json";

    /// <summary>The curated tree compiled into this assembly (knowledge/attribute-tree.json).</summary>
    public static AttributeTree Default() => Read(DefaultText(), CuratedPath + " (embedded)");

    /// <summary>The text of the curated tree as compiled in, byte for byte the file, so a run can record its SHA-256.</summary>
    public static string DefaultText()
    {
        using var stream = typeof(AttributeTree).Assembly.GetManifestResourceStream("FairNad.Knowledge.attribute-tree.json")
            ?? throw new KnowledgeFormatException("the curated attribute tree is missing from FairNad.Knowledge");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    public static AttributeTree Read(string json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new KnowledgeFormatException($"{source}: not valid JSON ({e.Message})");
        }

        using (document)
        {
            var root = document.RootElement;
            KnowledgeFormatException Error(string path, string message) => new($"{source}: {path}: {message}");
            JsonElement Need(JsonElement e, string path, string name, JsonValueKind kind) =>
                e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == kind ? v : throw Error($"{path}.{name}", $"missing or not {kind.ToString().ToLowerInvariant()}");
            string Text(JsonElement e, string path, string name) => Need(e, path, name, JsonValueKind.String).GetString()!;
            string? Optional(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

            var schema = Need(root, "$", "schema", JsonValueKind.Number).GetInt32();
            if (schema != CurrentSchema)
            {
                throw Error("$.schema", $"schema {schema} is not {CurrentSchema}");
            }

            var p = Need(root, "$", "provenance", JsonValueKind.Object);
            var provenance = new Provenance(Text(p, "$.provenance", "method"), Text(p, "$.provenance", "description"), Optional(p, "model"), Optional(p, "modelDigest"));
            var granularities = Need(root, "$", "granularities", JsonValueKind.Array).EnumerateArray().Select((g, gi) =>
            {
                var gp = $"$.granularities[{gi}]";
                return new GranularityNode(Text(g, gp, "id"), Text(g, gp, "name"), Need(g, gp, "categories", JsonValueKind.Array).EnumerateArray().Select((c, ci) =>
                {
                    var cp = $"{gp}.categories[{ci}]";
                    return new CategoryNode(Text(c, cp, "id"), Text(c, cp, "name"), Need(c, cp, "attributes", JsonValueKind.Array).EnumerateArray().Select((a, ai) =>
                    {
                        var ap = $"{cp}.attributes[{ai}]";
                        var references = Need(a, ap, "references", JsonValueKind.Array).EnumerateArray().Select(r => r.GetString() ?? throw Error($"{ap}.references", "must hold strings")).ToList();
                        var realisations = Need(a, ap, "realisations", JsonValueKind.Array).EnumerateArray().Select((r, ri) =>
                        {
                            var rp = $"{ap}.realisations[{ri}]";
                            var parameters = new SortedDictionary<string, ParamValue>(StringComparer.Ordinal);
                            if (r.TryGetProperty("params", out var ps))
                            {
                                foreach (var prop in ps.EnumerateObject())
                                {
                                    parameters[prop.Name] = prop.Value.ValueKind switch
                                    {
                                        JsonValueKind.Number => prop.Value.GetDouble(),
                                        JsonValueKind.String => prop.Value.GetString()!,
                                        JsonValueKind.True => true,
                                        JsonValueKind.False => false,
                                        _ => throw Error($"{rp}.params.{prop.Name}", "must be a number, string or boolean"),
                                    };
                                }
                            }

                            return new Realisation(Text(r, rp, "transform"), parameters);
                        }).ToList();
                        return new AttributeNode(Text(a, ap, "id"), Text(a, ap, "name"), Text(a, ap, "description"), Text(a, ap, "effect"), references, realisations);
                    }).ToList());
                }).ToList());
            }).ToList();
            return new AttributeTree(schema, provenance, granularities);
        }
    }

    /// <summary>Sorted-key, two-space-indented JSON with a final newline (what Extract writes and the snapshot pins).</summary>
    public string Write()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteStartArray("granularities");
            foreach (var g in Granularities)
            {
                w.WriteStartObject();
                w.WriteStartArray("categories");
                foreach (var c in g.Categories)
                {
                    w.WriteStartObject();
                    w.WriteStartArray("attributes");
                    foreach (var a in c.Attributes)
                    {
                        w.WriteStartObject();
                        w.WriteString("description", a.Description);
                        w.WriteString("effect", a.Effect);
                        w.WriteString("id", a.Id);
                        w.WriteString("name", a.Name);
                        w.WriteStartArray("realisations");
                        foreach (var r in a.Realisations)
                        {
                            w.WriteStartObject();
                            w.WriteStartObject("params");
                            foreach (var (key, value) in r.Params.OrderBy(x => x.Key, StringComparer.Ordinal))
                            {
                                if (value.Number is { } n)
                                {
                                    w.WriteNumber(key, n);
                                }
                                else if (value.Text is { } t)
                                {
                                    w.WriteString(key, t);
                                }
                                else
                                {
                                    w.WriteBoolean(key, value.Flag == true);
                                }
                            }

                            w.WriteEndObject();
                            w.WriteString("transform", r.Transform);
                            w.WriteEndObject();
                        }

                        w.WriteEndArray();
                        w.WriteStartArray("references");
                        foreach (var r in a.References)
                        {
                            w.WriteStringValue(r);
                        }

                        w.WriteEndArray();
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                    w.WriteString("id", c.Id);
                    w.WriteString("name", c.Name);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteString("id", g.Id);
                w.WriteString("name", g.Name);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartObject("provenance");
            w.WriteString("description", Provenance.Description);
            w.WriteString("method", Provenance.Method);
            w.WriteString("model", Provenance.Model);
            w.WriteString("modelDigest", Provenance.ModelDigest);
            w.WriteEndObject();
            w.WriteNumber("schema", Schema);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
    }

    /// <summary>
    /// Checks the tree: the template's granularities and categories in order, unique attribute ids under their category's
    /// prefix, no empty category, known effects and references, and every realisation a known transform with valid
    /// parameters that applies to at least one reference architecture.
    /// </summary>
    public IReadOnlyList<string> Validate(IReadOnlyCollection<string>? knownReferences = null)
    {
        var problems = new List<string>();
        var expected = KnowledgeTemplate.Granularities;
        if (!Granularities.Select(g => g.Id).SequenceEqual(expected.Select(g => g.Id)))
        {
            problems.Add($"granularities are [{string.Join(", ", Granularities.Select(g => g.Id))}], the template has [{string.Join(", ", expected.Select(g => g.Id))}]");
        }

        foreach (var (g, template) in Granularities.Zip(expected))
        {
            if (!g.Categories.Select(c => c.Id).SequenceEqual(template.Categories.Select(c => c.Id)))
            {
                problems.Add($"{g.Id}: categories are [{string.Join(", ", g.Categories.Select(c => c.Id))}], the template has [{string.Join(", ", template.Categories.Select(c => c.Id))}]");
            }
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var g in Granularities)
        {
            foreach (var c in g.Categories)
            {
                if (c.Attributes.Count == 0)
                {
                    problems.Add($"category {c.Id} is empty");
                }

                foreach (var a in c.Attributes)
                {
                    if (!seen.Add(a.Id))
                    {
                        problems.Add($"attribute id {a.Id} is used twice");
                    }

                    if (!a.Id.StartsWith(c.Id + ".", StringComparison.Ordinal))
                    {
                        problems.Add($"attribute {a.Id} does not start with its category id {c.Id}.");
                    }

                    if (!KnowledgeTemplate.Effects.Contains(a.Effect))
                    {
                        problems.Add($"attribute {a.Id}: effect '{a.Effect}' is not one of {string.Join(", ", KnowledgeTemplate.Effects)}");
                    }

                    if (string.IsNullOrWhiteSpace(a.Description) || a.Description.Length > 300)
                    {
                        problems.Add($"attribute {a.Id}: the description must be one sentence of at most 300 characters");
                    }

                    foreach (var r in a.References.Where(r => knownReferences is not null && !knownReferences.Contains(r)))
                    {
                        problems.Add($"attribute {a.Id}: reference '{r}' has no description under knowledge/references");
                    }

                    foreach (var r in a.Realisations)
                    {
                        problems.AddRange(CheckRealisation(a.Id, r));
                    }
                }
            }
        }

        return problems;
    }

    /// <summary>
    /// Attribute names (compared as the merge compares them) found in more than one main category, one line each. A tree can
    /// be valid and still hold them; they are warnings, not problems.
    /// </summary>
    public IReadOnlyList<string> CrossCategoryNames() =>
        Attributes.GroupBy(x => KnowledgeExtractor.Normalise(x.Attribute.Name), StringComparer.Ordinal)
            .Select(g => (Name: g.First().Attribute.Name, Items: g.ToList(), Categories: g.Select(x => x.Category.Id).Distinct().ToList()))
            .Where(x => x.Categories.Count > 1)
            .OrderBy(x => x.Name, StringComparer.Ordinal)
            .Select(x => $"attribute name '{x.Name}' is in {x.Categories.Count} main categories: {string.Join(", ", x.Items.Select(i => i.Attribute.Id))}")
            .ToList();

    /// <summary>
    /// What <see cref="Validate"/> does not count as a problem but a reader should see: names in more than one main category
    /// (<see cref="CrossCategoryNames"/>) and one name used by several attributes within one category.
    /// </summary>
    public IReadOnlyList<string> Warnings()
    {
        var warnings = CrossCategoryNames().ToList();
        foreach (var c in Granularities.SelectMany(g => g.Categories))
        {
            foreach (var g in c.Attributes.GroupBy(a => KnowledgeExtractor.Normalise(a.Name), StringComparer.Ordinal).Where(g => g.Count() > 1))
            {
                warnings.Add($"attribute name '{g.First().Name}' is used {g.Count()} times in {c.Id}: {string.Join(", ", g.Select(a => a.Id))}");
            }
        }

        return warnings;
    }

    private static IEnumerable<string> CheckRealisation(string attribute, Realisation realisation)
    {
        if (SpecTransforms.Find(realisation.Transform) is null)
        {
            yield return $"attribute {attribute}: unknown transform '{realisation.Transform}'";
            yield break;
        }

        string? error = null;
        var applies = false;
        foreach (var reference in ReferenceArchitectures.Names)
        {
            try
            {
                realisation.Apply(ReferenceArchitectures.Get(reference));
                applies = true;
                break;
            }
            catch (TransformNotApplicableException)
            {
            }
            catch (ArgumentException e)
            {
                error = e.Message;
                break;
            }
        }

        if (error is not null)
        {
            yield return $"attribute {attribute}: realisation {realisation}: {error}";
        }
        else if (!applies)
        {
            yield return $"attribute {attribute}: realisation {realisation} applies to none of the reference architectures";
        }
    }

    /// <summary>Attributes per category and the share with a realisation.</summary>
    public string Stats()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{"category",-42} {"attributes",10} {"realised",9}\n");
        foreach (var g in Granularities)
        {
            foreach (var c in g.Categories)
            {
                text.Append(CultureInfo.InvariantCulture, $"{c.Id,-42} {c.Attributes.Count,10} {c.Attributes.Count(a => a.Realisations.Count > 0),9}\n");
            }
        }

        var all = Attributes.Select(x => x.Attribute).ToList();
        var realised = all.Count(a => a.Realisations.Count > 0);
        text.Append(CultureInfo.InvariantCulture, $"{"total",-42} {all.Count,10} {realised,9}  ({(double)realised / Math.Max(1, all.Count):P0} realised by the operator library; the rest are left to LLM-driven mutation)\n");
        return text.ToString();
    }

    /// <summary>The tree as indented text.</summary>
    public string Show()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"attribute tree (schema {Schema}): {Provenance.Method}: {Provenance.Description}\n");
        foreach (var g in Granularities)
        {
            text.Append(CultureInfo.InvariantCulture, $"{g.Name}\n");
            foreach (var c in g.Categories)
            {
                text.Append(CultureInfo.InvariantCulture, $"  {c.Name}\n");
                foreach (var a in c.Attributes)
                {
                    var how = a.Realisations.Count == 0 ? "LLM only" : string.Join("; ", a.Realisations);
                    text.Append(CultureInfo.InvariantCulture, $"    {a.Name} [{a.Effect}] ({string.Join(", ", a.References)}): {a.Description}\n      id {a.Id}; realised by {how}\n");
                }
            }
        }

        return text.ToString();
    }
}

/// <summary>The fixed top two levels of the tree, as in the FairNAD paper's template.</summary>
public static class KnowledgeTemplate
{
    public static readonly IReadOnlyList<string> Effects = ["accuracy", "efficiency", "optimisation", "generalisation"];

    public static readonly IReadOnlyList<GranularityNode> Granularities =
    [
        new("operator", "Operator level",
        [
            new("operator.feature-extraction", "Feature extraction operators", []),
            new("operator.normalisation", "Normalisation", []),
            new("operator.activation", "Activation", []),
        ]),
        new("block", "Block and connectivity level",
        [
            new("block.input-encoding", "Input encoding", []),
            new("block.residual-multibranch", "Residual connections and multi-branch architectures", []),
            new("block.fusion-aggregation", "Feature fusion and aggregation", []),
            new("block.recalibration", "Adaptive feature recalibration", []),
        ]),
        new("network", "Network level",
        [
            new("network.downsampling", "Downsampling and resolution schedule", []),
            new("network.depth-width", "Depth and width allocation across stages", []),
            new("network.hierarchy", "Hierarchical versus isotropic design", []),
            new("network.head-regularisation", "Classifier head and regularisation", []),
        ]),
    ];
}
