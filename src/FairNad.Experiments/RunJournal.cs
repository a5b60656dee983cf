using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace FairNad.Experiments;

/// <summary>One evaluated candidate as the journal records it: where it came from, what it scored, and its commit.</summary>
public sealed record JournalEntry(
    int Index,
    string Candidate,
    string MutationType,
    string? Attribute,
    string? Category,
    IReadOnlyList<string> Parents,
    string? Transcript,
    string Summary,
    string Status,
    double? Validation,
    double? Test,
    long? Parameters,
    long? Macs,
    double? LatencyMs,
    string? FailureCategory,
    string? FailureMessage,
    string Commit,
    double TrainSeconds,
    double ElapsedSeconds)
{
    public bool Ok => Status == "ok";
}

/// <summary>
/// The run's journal (journal.jsonl): one line per finished candidate, appended and flushed to disk before the next
/// candidate's record, so a kill -9 loses at most the candidates in flight. A torn last line (the kill came mid-write) is
/// ignored; damage anywhere else is an error naming the line.
/// </summary>
public sealed class RunJournal : IDisposable
{
    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    private readonly FileStream _stream;
    private readonly Dictionary<string, JournalEntry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    private RunJournal(string path, FileStream stream, IEnumerable<JournalEntry> entries)
    {
        Path = path;
        _stream = stream;
        foreach (var entry in entries)
        {
            _entries[entry.Candidate] = entry;
        }
    }

    public string Path { get; }

    public IReadOnlyDictionary<string, JournalEntry> Entries
    {
        get
        {
            lock (_gate)
            {
                return new Dictionary<string, JournalEntry>(_entries, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>Opens (creating) the journal, reads what it holds and truncates a torn last line.</summary>
    /// <exception cref="ExperimentException">a line other than the last is not a journal entry.</exception>
    public static RunJournal Open(string path)
    {
        var entries = new List<JournalEntry>();
        long good = 0;
        var unterminated = false;
        if (File.Exists(path))
        {
            var bytes = File.ReadAllBytes(path);
            var lineNumber = 0;
            var start = 0;
            while (start < bytes.Length)
            {
                lineNumber++;
                var end = Array.IndexOf(bytes, (byte)'\n', start);
                var complete = end >= 0;
                var line = Encoding.UTF8.GetString(bytes, start, (complete ? end : bytes.Length) - start);
                try
                {
                    entries.Add(JsonSerializer.Deserialize<JournalEntry>(line, Json) ?? throw new JsonException("empty line"));
                }
                catch (JsonException e)
                {
                    if (complete && end + 1 < bytes.Length)
                    {
                        throw new ExperimentException($"{path}: line {lineNumber} is not a journal entry ({e.Message})");
                    }

                    break;
                }

                if (!complete)
                {
                    // A whole entry without its newline: keep it and finish the line.
                    good = bytes.Length;
                    unterminated = true;
                    break;
                }

                good = end + 1;
                start = end + 1;
            }
        }

        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        stream.SetLength(good);
        stream.Seek(0, SeekOrigin.End);
        if (unterminated)
        {
            stream.WriteByte((byte)'\n');
            stream.Flush(flushToDisk: true);
        }

        return new RunJournal(path, stream, entries);
    }

    public void Append(JournalEntry entry)
    {
        var line = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(entry, Json) + "\n");
        lock (_gate)
        {
            _stream.Write(line);
            _stream.Flush(flushToDisk: true);
            _entries[entry.Candidate] = entry;
        }
    }

    public void Dispose() => _stream.Dispose();
}
