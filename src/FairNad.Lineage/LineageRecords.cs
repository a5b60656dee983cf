using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using FairNad.Architecture;

namespace FairNad.Lineage;

/// <summary>A lineage operation failed; the message names the run, candidate or ref concerned.</summary>
public sealed class LineageException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>What a run records in its root commit: the experiment file and the knowledge snapshot it searched with.</summary>
/// <param name="Run">The run name; becomes a ref component (letters, digits, '.', '_', '-').</param>
/// <param name="Seed">The run's seed; commit times derive from it.</param>
/// <param name="ExperimentPath">Where the experiment file lives in the repository, e.g. experiments/quickstart.json.</param>
/// <param name="ExperimentContent">The experiment file's bytes as text.</param>
/// <param name="KnowledgeContent">The attribute tree used, if any.</param>
public sealed record RunManifest(string Run, long Seed, string ExperimentPath, string ExperimentContent, string? KnowledgeContent)
{
    /// <summary>
    /// The commit layout (<see cref="LineageLayout.FormatVersion"/> and older ones in <see cref="LineageLayout.Formats"/>)
    /// the run records in; null for the layout of a run already recorded under this name, or the current one for a new run.
    /// A run keeps the layout it started with (its Lineage-Format trailer), so resuming or reproducing an old run writes the
    /// commits it wrote then.
    /// </summary>
    public int? Format { get; init; }
}

/// <summary>One candidate to record: its spec and where it came from.</summary>
/// <param name="Index">Position in the run (0 for the first seed architecture); commit times derive from it.</param>
/// <param name="Parents">Candidate ids of the parents: none for a seed architecture, two when a mutation combined two.</param>
/// <param name="MutationType">E.g. seed, fair-idea, pareto, llm, crossover, random.</param>
/// <param name="Attribute">Id of the attribute the mutation realised, if any.</param>
/// <param name="Transcript">Hash of the recorded LLM exchange, if an LLM took part.</param>
/// <param name="Summary">One line saying what changed.</param>
public sealed record CandidateEntry(
    int Index,
    ArchitectureSpec Spec,
    IReadOnlyList<string> Parents,
    string MutationType,
    string? Attribute,
    string? Transcript,
    string Summary)
{
    /// <summary>
    /// The sources of the LLM-written operators the spec uses, by reference (<c>sha256:...</c>); committed as
    /// <c>operators/&lt;hex&gt;.cs</c> beside the generated network code. Empty for specs of the fixed library only.
    /// </summary>
    public IReadOnlyDictionary<string, string> Operators { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);
}

/// <summary>A candidate as read back from the store.</summary>
public sealed record StoredCandidate(
    string Run,
    string CandidateId,
    string Commit,
    string Branch,
    int Index,
    IReadOnlyList<string> ParentCandidates,
    IReadOnlyList<string> ParentCommits,
    string MutationType,
    string? Attribute,
    string? Transcript,
    long Seed,
    string Experiment,
    string Summary);

/// <summary>
/// A candidate as the run's own record (its journal) has it, to cross-check the repository against with
/// <see cref="LineageStore.Verify(string, IReadOnlyList{RecordedCandidate})"/>: the entry <see cref="LineageStore.Add"/>
/// was given (all but the spec, which the candidate id pins), the commit it returned, and the metrics written as its note.
/// </summary>
/// <param name="Index">Position in the run.</param>
/// <param name="CandidateId">SHA-256 of the canonical spec; names the branch.</param>
/// <param name="Commit">The commit id <see cref="LineageStore.Add"/> returned.</param>
/// <param name="MutationType">E.g. seed, fair-idea, llm.</param>
/// <param name="Attribute">Id of the attribute the mutation realised, if any.</param>
/// <param name="Parents">Candidate ids of the parents, in order.</param>
/// <param name="Transcript">Hash of the recorded LLM exchange, if any.</param>
/// <param name="Summary">The summary as given to <see cref="LineageStore.Add"/>.</param>
/// <param name="Metrics">The evaluation as recorded; null when the record has none (then the commit must have no note either).</param>
public sealed record RecordedCandidate(
    int Index,
    string CandidateId,
    string Commit,
    string MutationType,
    string? Attribute,
    IReadOnlyList<string> Parents,
    string? Transcript,
    string Summary,
    CandidateMetrics? Metrics);

/// <summary>
/// Evaluation results kept as a git note, so the commit id depends only on architecture and lineage. Stored as JSON with
/// sorted keys; <see cref="Extra"/> carries any further numbers (zero-cost proxies, per-epoch curves' summaries).
/// </summary>
public sealed record CandidateMetrics(
    string Status,
    double? ValidationAccuracy = null,
    double? TestAccuracy = null,
    long? Parameters = null,
    long? Macs = null,
    double? LatencyMs = null,
    string? FailureReason = null,
    string? Fidelity = null,
    string? WorkerHost = null,
    IReadOnlyDictionary<string, double>? Extra = null)
{
    public static readonly IReadOnlyList<string> Statuses = ["ok", "failed", "invalid", "skipped"];

    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (Extra is { Count: > 0 })
            {
                w.WriteStartObject("extra");
                foreach (var (key, value) in Extra.OrderBy(e => e.Key, StringComparer.Ordinal))
                {
                    w.WriteNumber(key, value);
                }

                w.WriteEndObject();
            }

            Optional(w, "failureReason", FailureReason);
            Optional(w, "fidelity", Fidelity);
            Optional(w, "latencyMs", LatencyMs);
            Optional(w, "macs", Macs);
            Optional(w, "parameters", Parameters);
            w.WriteString("status", Status);
            Optional(w, "testAccuracy", TestAccuracy);
            Optional(w, "validationAccuracy", ValidationAccuracy);
            Optional(w, "workerHost", WorkerHost);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
    }

    /// <exception cref="LineageException">the text is not a metrics note; the message says which field is wrong.</exception>
    public static CandidateMetrics Parse(string json, string source)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new LineageException($"{source}: a metrics note must be a JSON object");
            }

            var known = new HashSet<string>(StringComparer.Ordinal)
                { "extra", "failureReason", "fidelity", "latencyMs", "macs", "parameters", "status", "testAccuracy", "validationAccuracy", "workerHost" };
            foreach (var property in root.EnumerateObject().Where(p => !known.Contains(p.Name)))
            {
                throw new LineageException($"{source}: unknown field '{property.Name}'");
            }

            var status = root.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! :
                throw new LineageException($"{source}: field 'status' is missing or not a string");
            if (!Statuses.Contains(status))
            {
                throw new LineageException($"{source}: status '{status}' is not one of {string.Join(", ", Statuses)}");
            }

            Dictionary<string, double>? extra = null;
            if (root.TryGetProperty("extra", out var e))
            {
                extra = e.ValueKind == JsonValueKind.Object
                    ? e.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.Number ? p.Value.GetDouble() :
                        throw new LineageException($"{source}: extra.{p.Name} must be a number"), StringComparer.Ordinal)
                    : throw new LineageException($"{source}: field 'extra' must be an object");
            }

            return new CandidateMetrics(status, Number(root, "validationAccuracy", source), Number(root, "testAccuracy", source),
                (long?)Number(root, "parameters", source), (long?)Number(root, "macs", source), Number(root, "latencyMs", source),
                Text(root, "failureReason", source), Text(root, "fidelity", source), Text(root, "workerHost", source), extra);
        }
        catch (JsonException ex)
        {
            throw new LineageException($"{source}: not valid JSON: {ex.Message}", ex);
        }
    }

    private static double? Number(JsonElement root, string name, string source) =>
        !root.TryGetProperty(name, out var v) ? null :
        v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw new LineageException($"{source}: field '{name}' must be a number");

    private static string? Text(JsonElement root, string name, string source) =>
        !root.TryGetProperty(name, out var v) ? null :
        v.ValueKind == JsonValueKind.String ? v.GetString() : throw new LineageException($"{source}: field '{name}' must be a string");

    private static void Optional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null)
        {
            w.WriteString(name, value);
        }
    }

    private static void Optional(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
    }

    private static void Optional(Utf8JsonWriter w, string name, long? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
    }
}

/// <summary>Commit-message trailers: the last paragraph's <c>Key: value</c> lines, as <c>git interpret-trailers --parse</c> reads them.</summary>
public static partial class Trailers
{
    public static string Format(IEnumerable<(string Key, string Value)> trailers) =>
        string.Concat(trailers.Select(t => $"{t.Key}: {t.Value}\n"));

    public static IReadOnlyList<(string Key, string Value)> Parse(string message)
    {
        var paragraphs = message.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd('\n').Split("\n\n");
        var last = paragraphs[^1].Split('\n');
        if (paragraphs.Length < 2 || !last.All(l => TrailerLine().IsMatch(l)))
        {
            return [];
        }

        return last.Select(l => TrailerLine().Match(l)).Select(m => (m.Groups[1].Value, m.Groups[2].Value)).ToList();
    }

    [GeneratedRegex(@"^([A-Za-z0-9][A-Za-z0-9-]*): (.*)$")]
    private static partial Regex TrailerLine();
}

/// <summary>Names and fixed values of the store's layout.</summary>
public static partial class LineageLayout
{
    /// <summary>
    /// Bumped when commit contents change for the same input (the commit ids of a run change with it). A run records its
    /// layout in every commit's Lineage-Format trailer and keeps it: 1 holds the spec, the generated code, the README and
    /// the operators; 2 adds a project that builds and checks the candidate on its own (<see cref="CandidateProject"/>).
    /// </summary>
    public const int FormatVersion = 2;

    /// <summary>Every layout this build writes and verifies, oldest first.</summary>
    public static IReadOnlyList<int> Formats { get; } = [1, 2];

    public const string SpecFile = "architecture.json";
    public const string CodeFile = "Network.cs";
    public const string ReadmeFile = "README.md";
    public const string IdentityName = "FairNad";
    public const string IdentityEmail = "lineage@fairnad.invalid";

    /// <summary>2020-01-01T00:00:00Z: the origin of the synthetic commit clock.</summary>
    private const long Epoch = 1_577_836_800;

    public static string BranchPrefix(string run) => $"refs/heads/fairnad/{run}/";

    public static string CandidateBranch(string run, string candidateId) => BranchPrefix(run) + candidateId;

    public static string RootBranch(string run) => BranchPrefix(run) + "root";

    /// <summary>The notes ref of a run; `git notes --ref fairnad/&lt;run&gt; show &lt;commit&gt;` reads it.</summary>
    public static string NotesRef(string run) => $"refs/notes/fairnad/{run}";

    /// <summary>
    /// The notes ref of rung &lt;k&gt; (1 and up) of a laddered run: each promoted candidate's result at that rung. With the
    /// run's own notes ref (rung 0, every candidate's first evaluation) that is one note per rung on the candidate's commit;
    /// `git notes --ref fairnad-rung&lt;k&gt;/&lt;run&gt; show &lt;commit&gt;` reads it. A namespace of its own per rung, so it
    /// never collides with a run's notes ref.
    /// </summary>
    public static string RungNotesRef(string run, int rung) => $"refs/notes/{RungNotesNamespace(run, rung)}";

    internal static string RungNotesNamespace(string run, int rung) => $"fairnad-rung{Invariant(rung)}/{run}";

    /// <summary>
    /// The synthetic commit time: one day per seed value (mod 100,000) after the epoch, plus one second per candidate
    /// index, so times order candidates within a run and never depend on the wall clock.
    /// </summary>
    public static DateTimeOffset CommitTime(long seed, int index) =>
        DateTimeOffset.FromUnixTimeSeconds(Epoch + (Math.Abs(seed % 100_000) * 86_400) + index + 1);

    /// <exception cref="LineageException">the run name is not usable in a ref.</exception>
    public static void CheckRunName(string run)
    {
        if (!RunName().IsMatch(run) || run.EndsWith(".lock", StringComparison.Ordinal) || run.Contains("..", StringComparison.Ordinal))
        {
            throw new LineageException($"run name '{run}' must be 1-100 letters, digits, '.', '_' or '-', not start with '.' or '-', contain no '..' and not end in .lock");
        }
    }

    public static string Sha256(string text) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    public static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$")]
    private static partial Regex RunName();
}
