using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace FairNad.Experiments;

/// <summary>
/// The run's journal (journal.jsonl): one line per finished candidate, appended and flushed to disk before the next
/// candidate's record, so a kill -9 loses at most the candidates in flight. It is append-only and hash-chained: each line
/// carries the SHA-256 of the line before it (the first, of the run's name), so an edited, removed, reordered or
/// inserted line is found when the journal is opened. A torn last line (the kill came mid-write: no newline) is cut off
/// and reported in <see cref="Repaired"/>; damage anywhere else, a line that breaks the chain or a candidate recorded twice
/// is an error naming the line.
/// </summary>
public sealed class RunJournal : IDisposable
{
    public const string FileName = RunArchive.JournalFile;

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    private readonly FileStream _stream;
    private readonly Dictionary<string, CandidateRecord> _entries = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private string _last;

    private RunJournal(string path, FileStream stream, IEnumerable<CandidateRecord> entries, string last, string? repaired)
    {
        Path = path;
        _stream = stream;
        _last = last;
        Repaired = repaired;
        foreach (var entry in entries)
        {
            _entries[entry.Key] = entry;
        }
    }

    public string Path { get; }

    /// <summary>What opening the journal had to repair (a torn last line), in words; null when nothing.</summary>
    public string? Repaired { get; }

    /// <summary>The recorded evaluations by <see cref="CandidateRecord.Key"/>.</summary>
    public IReadOnlyDictionary<string, CandidateRecord> Entries
    {
        get
        {
            lock (_gate)
            {
                return new Dictionary<string, CandidateRecord>(_entries, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>
    /// The journal's key of an evaluation: the candidate id for its first (rung 0) evaluation, as always; a later rung or
    /// a noise seed adds "@r&lt;rung&gt;" and "s&lt;seed offset&gt;", so each is recorded once.
    /// </summary>
    public static string Key(string candidate, int rung, int noiseSeed) =>
        rung == 0 && noiseSeed == 0 ? candidate : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{candidate}@r{rung}{(noiseSeed == 0 ? string.Empty : $"s{noiseSeed}")}");

    /// <summary>
    /// Each candidate once, as the search knows it now: its valid evaluation at the highest rung it reached (a promotion
    /// that failed leaves it at the rung below, as the strategy keeps it; a candidate with no valid result is its highest
    /// failed one), noise measurements left out, in index order. Without a ladder, every record.
    /// </summary>
    public static IReadOnlyList<CandidateRecord> Current(IEnumerable<CandidateRecord> records) =>
        [.. records.Where(r => !r.IsNoise).GroupBy(r => r.Candidate, StringComparer.Ordinal)
            .Select(g => g.OrderByDescending(r => r.Ok).ThenByDescending(r => r.Rung).First()).OrderBy(r => r.Index)];

    /// <summary>The hash the first line of <paramref name="run"/>'s journal chains to.</summary>
    public static string Genesis(string run) => Sha256(Encoding.UTF8.GetBytes($"fairnad journal of run {run}"));

    /// <summary>Reads a journal without opening it for writing (reports, reproduction, verification).</summary>
    /// <exception cref="ExperimentException">the journal is damaged or its hash chain is broken; the message names the line.</exception>
    public static IReadOnlyList<CandidateRecord> Read(string path, string run)
    {
        var (entries, _, _, _) = Parse(path, run, File.ReadAllBytes(path));
        return entries;
    }

    /// <summary>Opens (creating) the journal for appending, after checking every line and the hash chain.</summary>
    /// <exception cref="ExperimentException">a line other than a torn last one is not a journal entry, or the chain is broken.</exception>
    public static RunJournal Open(string path, string run)
    {
        var bytes = File.Exists(path) ? File.ReadAllBytes(path) : [];
        var (entries, good, last, repaired) = Parse(path, run, bytes);
        if (good < bytes.Length)
        {
            using var cut = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.Read);
            cut.SetLength(good);
            cut.Flush(flushToDisk: true);
        }

        var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        return new RunJournal(path, stream, entries, last, repaired);
    }

    /// <summary>Appends <paramref name="entry"/>, chained to the line before it, and flushes it to disk; returns it as written.</summary>
    public CandidateRecord Append(CandidateRecord entry)
    {
        lock (_gate)
        {
            var chained = entry with { Previous = _last };
            var line = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(chained, Json));
            _stream.Write(line);
            _stream.WriteByte((byte)'\n');
            _stream.Flush(flushToDisk: true);
            _last = Sha256(line);
            _entries[entry.Key] = chained;
            return chained;
        }
    }

    public void Dispose() => _stream.Dispose();

    private static (List<CandidateRecord> Entries, long Good, string Last, string? Repaired) Parse(string path, string run, byte[] bytes)
    {
        var entries = new List<CandidateRecord>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var last = Genesis(run);
        long good = 0;
        var lineNumber = 0;
        var start = 0;
        while (start < bytes.Length)
        {
            lineNumber++;
            var end = Array.IndexOf(bytes, (byte)'\n', start);
            if (end < 0)
            {
                // No newline: the process died while writing this line. Nothing after it can exist; cut it off.
                return (entries, good, last, $"{path}: line {lineNumber} was cut off mid-write ({bytes.Length - start} bytes, no newline) and was removed; its candidate is evaluated again");
            }

            var line = bytes.AsSpan(start, end - start);
            CandidateRecord entry;
            try
            {
                entry = JsonSerializer.Deserialize<CandidateRecord>(line, Json) ?? throw new JsonException("empty line");
            }
            catch (JsonException e)
            {
                throw new ExperimentException($"{path}: line {lineNumber} is not a journal entry ({e.Message}); the journal is damaged, so the run cannot be resumed as it is");
            }

            if (entry.Previous is null)
            {
                throw new ExperimentException($"{path}: line {lineNumber} has no hash chain (written by an older FairNad); this version cannot resume it: start a new run");
            }

            if (entry.Previous != last)
            {
                throw new ExperimentException(
                    $"{path}: line {lineNumber} (candidate {Short(entry.Candidate)}) does not follow {(lineNumber == 1 ? $"the start of run {run}" : $"line {lineNumber - 1}")}: it chains to {Short(entry.Previous)}, " +
                    $"but {(lineNumber == 1 ? "the run's genesis" : $"line {lineNumber - 1}")} hashes to {Short(last)}. Lines were edited, removed, reordered or copied from another run; " +
                    $"`fairnad lineage verify --run {run}` compares the journal with the result files and the git record");
            }

            if (seen.TryGetValue(entry.Key, out var earlier))
            {
                throw new ExperimentException($"{path}: line {lineNumber} records candidate {Short(entry.Candidate)}{(entry.Key == entry.Candidate ? string.Empty : $" ({entry.Key[entry.Candidate.Length..]})")} again (first on line {earlier})");
            }

            seen[entry.Key] = lineNumber;
            entries.Add(entry);
            last = Sha256(line);
            good = end + 1;
            start = end + 1;
        }

        return (entries, good, last, null);
    }

    private static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));

    private static string Short(string text) => text.Length > 12 ? text[..12] : text;
}
