using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace FairNad.Architecture;

/// <summary>
/// An archive entry: what a run knows about an LLM-written operator that passed verification and joined the run with a
/// candidate (<c>results/&lt;run&gt;/operators/&lt;hex&gt;.json</c>, beside its source <c>&lt;hex&gt;.cs</c>). It names the
/// source by hash, the contract it was verified against, the attribute the mutation that introduced it realised, and
/// that run and candidate, so a later mutation can reuse it by hash and the attribute gains a realisation.
/// </summary>
/// <param name="Reference"><c>sha256:&lt;hex&gt;</c> of the source.</param>
/// <param name="ClassName">The public module class of the source.</param>
/// <param name="Contract">The contract the operator was verified against.</param>
/// <param name="Attribute">The id of the attribute the introducing mutation realised.</param>
/// <param name="Run">The run that introduced it.</param>
/// <param name="Candidate">The full id of the candidate that introduced it.</param>
/// <param name="Licence">Always <see cref="GeneratedLicence"/>: the source was written by a model, not copied from a licensed project.</param>
/// <param name="Costs">Costs measured when the entry was written (empty when none were); a later <c>&lt;hex&gt;.costs.json</c> is read beside it.</param>
public sealed record OperatorEntry(string Reference, string ClassName, string Contract, string Attribute, string Run, string Candidate, string Licence, IReadOnlyList<OperatorCost> Costs)
{
    public const string Format = "fairnad-operator-1";

    public const string GeneratedLicence = "generated";

    /// <summary>The entry as JSON: the fields in the archive's documented order, two-space indented, a final newline. Deterministic.</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("format", Format);
            w.WriteString("reference", Reference);
            w.WriteString("className", ClassName);
            w.WriteString("contract", Contract);
            w.WriteString("attribute", Attribute);
            w.WriteString("run", Run);
            w.WriteString("candidate", Candidate);
            w.WriteString("licence", Licence);
            w.WritePropertyName("costs");
            OperatorArchive.WriteCosts(w, Costs);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
    }

    /// <summary>Reads an entry; <paramref name="source"/> names the file in errors.</summary>
    /// <exception cref="InvalidDataException">not JSON, another format, or a field missing or of the wrong type (the message names the file and the field).</exception>
    public static OperatorEntry Read(string json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON ({e.Message})");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{source}: an operator entry must be a JSON object");
            }

            string Text(string name) =>
                root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString()!.Length > 0
                    ? v.GetString()!
                    : throw new InvalidDataException($"{source}: field '{name}' is missing or not a non-empty string");

            var format = Text("format");
            if (format != Format)
            {
                throw new InvalidDataException($"{source}: field 'format' is '{format}', not '{Format}'");
            }

            var reference = Text("reference");
            if (!OperatorSources.IsReference(reference))
            {
                throw new InvalidDataException($"{source}: field 'reference' is '{reference}', not sha256:<64 lower-case hex digits>");
            }

            var costs = root.TryGetProperty("costs", out var c)
                ? OperatorArchive.ReadCosts(c, source, "costs")
                : throw new InvalidDataException($"{source}: field 'costs' is missing");
            return new OperatorEntry(reference, Text("className"), Text("contract"), Text("attribute"), Text("run"), Text("candidate"), Text("licence"), costs);
        }
    }
}

/// <summary>
/// A run's operator archive: the folder <c>results/&lt;run&gt;/operators/</c> that holds each verified operator's source
/// (<c>&lt;hex&gt;.cs</c>, the <see cref="OperatorStore"/>), its entry (<c>&lt;hex&gt;.json</c>) and, once a worker measured
/// it, its costs (<c>&lt;hex&gt;.costs.json</c>). An entry is written once, when its operator first joins the run, and
/// never overwritten; reading one checks that its source is there and still hashes to its reference, so an entry whose
/// source was edited by hand is refused, not shown or promoted.
/// </summary>
public sealed partial class OperatorArchive(string directory)
{
    public const string CostsFormat = OperatorCostTable.Format;

    public string Directory { get; } = directory;

    /// <summary>The archive of the run in <paramref name="runDirectory"/>.</summary>
    public static OperatorArchive OfRun(string runDirectory) => new(Path.Combine(runDirectory, OperatorSources.Folder));

    public OperatorStore Store => new(Directory);

    public string EntryPath(string reference) => Path.Combine(Directory, Hex(reference) + ".json");

    public string CostsPath(string reference) => Path.Combine(Directory, Hex(reference) + ".costs.json");

    public string SourcePath(string reference) => Path.Combine(Directory, OperatorSources.FileName(reference));

    /// <summary>
    /// Writes <paramref name="entry"/> unless the archive has one for its reference already (the first introduction
    /// wins; a later reuse or a replay on resume changes nothing). Atomic: a temporary file, then a move.
    /// </summary>
    /// <returns>Whether the entry was written.</returns>
    /// <exception cref="InvalidDataException">the entry's source is not in the archive, or does not hash to its reference.</exception>
    public bool Add(OperatorEntry entry)
    {
        Store.Get(entry.Reference);
        var path = EntryPath(entry.Reference);
        if (File.Exists(path))
        {
            return false;
        }

        System.IO.Directory.CreateDirectory(Directory);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, entry.ToJson(), new UTF8Encoding(false));
        File.Move(temporary, path, overwrite: false);
        return true;
    }

    public bool Contains(string reference) => OperatorSources.IsReference(reference) && File.Exists(EntryPath(reference));

    /// <summary>The entry of <paramref name="reference"/>, checked: its reference field matches its file name and its source hashes to it.</summary>
    /// <exception cref="InvalidDataException">missing, unreadable, or its source is missing or was changed (the message names the file).</exception>
    public OperatorEntry Get(string reference)
    {
        if (!OperatorSources.IsReference(reference))
        {
            throw new InvalidDataException($"'{reference}' is not an operator reference sha256:<64 lower-case hex digits>");
        }

        var path = EntryPath(reference);
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"{path}: operator {reference} has no archive entry");
        }

        var entry = OperatorEntry.Read(File.ReadAllText(path, Encoding.UTF8), path);
        if (entry.Reference != reference)
        {
            throw new InvalidDataException($"{path}: field 'reference' is {entry.Reference}, but the file is named for {reference}");
        }

        Store.Get(reference);
        return entry;
    }

    /// <summary>Every entry of the archive, checked as <see cref="Get"/> checks it, ordered by reference (so the order is the same on every machine).</summary>
    public IReadOnlyList<OperatorEntry> Entries() =>
        References().Select(Get).ToList();

    /// <summary>The references that have an entry, ordered.</summary>
    public IReadOnlyList<string> References() =>
        !System.IO.Directory.Exists(Directory)
            ? []
            : System.IO.Directory.GetFiles(Directory, "*.json")
                .Select(Path.GetFileName)
                .Where(n => n!.Length == 64 + ".json".Length)
                .Select(n => OperatorSources.Prefix + n![..64])
                .Where(OperatorSources.IsReference)
                .Order(StringComparer.Ordinal)
                .ToList();

    /// <summary>The costs a worker measured (<c>&lt;hex&gt;.costs.json</c>), or null when it has not been measured.</summary>
    /// <exception cref="InvalidDataException">the file is there but unreadable, of another format, or for another operator.</exception>
    public IReadOnlyList<OperatorCost>? MeasuredCosts(string reference)
    {
        var path = CostsPath(reference);
        if (!File.Exists(path))
        {
            return null;
        }

        // One reader for the cost table's file format: the table's (format, fields and counts checked, path named).
        var (measured, costs) = OperatorCostTable.Read(path);
        return measured == reference ? costs : throw new InvalidDataException($"{path}: field 'reference' must be {reference}");
    }

    /// <summary>The costs to show for an entry: the measured file's when present, else the entry's own (possibly none).</summary>
    public IReadOnlyList<OperatorCost> CostsOf(OperatorEntry entry) => MeasuredCosts(entry.Reference) ?? entry.Costs;

    /// <summary>
    /// The name of the public module class of a source (what <c>CustomOperators</c> loads), or null when none is found.
    /// A text match, not a compilation: verification already checked that there is exactly one.
    /// </summary>
    public static string? ClassName(string source) =>
        ModuleClass().Match(source) is { Success: true } m ? m.Groups["name"].Value : null;

    /// <summary>A costs table, one line per shape, or "not measured".</summary>
    public static string DescribeCosts(IReadOnlyList<OperatorCost> costs) =>
        costs.Count == 0
            ? "not measured"
            : string.Join("\n", costs.Select(c => string.Create(CultureInfo.InvariantCulture,
                $"{c.InChannels} -> {c.OutChannels} channels, stride {c.Stride}, {c.Height} x {c.Width}: {c.Parameters:N0} parameters, {c.Macs:N0} MACs")));

    internal static void WriteCosts(Utf8JsonWriter w, IReadOnlyList<OperatorCost> costs)
    {
        w.WriteStartArray();
        foreach (var c in costs)
        {
            w.WriteStartObject();
            w.WriteNumber("inChannels", c.InChannels);
            w.WriteNumber("outChannels", c.OutChannels);
            w.WriteNumber("stride", c.Stride);
            w.WriteNumber("height", c.Height);
            w.WriteNumber("width", c.Width);
            w.WriteNumber("parameters", c.Parameters);
            w.WriteNumber("macs", c.Macs);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    internal static IReadOnlyList<OperatorCost> ReadCosts(JsonElement costs, string source, string field)
    {
        if (costs.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"{source}: field '{field}' must be an array");
        }

        return costs.EnumerateArray().Select((c, i) =>
        {
            long Number(string name) =>
                c.ValueKind == JsonValueKind.Object && c.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var x) && x >= 0
                    ? x
                    : throw new InvalidDataException($"{source}: field '{field}[{i}].{name}' is missing or not a non-negative integer");
            return new OperatorCost((int)Number("inChannels"), (int)Number("outChannels"), (int)Number("stride"), (int)Number("height"), (int)Number("width"), Number("parameters"), Number("macs"));
        }).ToList();
    }

    private static string Hex(string reference) => OperatorSources.FileName(reference)[..^".cs".Length];

    [GeneratedRegex(@"public\s+(?:(?:sealed|partial)\s+)*class\s+(?<name>[A-Za-z_][A-Za-z0-9_]*)[^{;]*?Module\s*<\s*Tensor\s*,\s*Tensor\s*>", RegexOptions.CultureInvariant)]
    private static partial Regex ModuleClass();
}
