using System.Text;
using System.Text.Json.Nodes;

namespace FairNad.Experiments.Slurm;

/// <summary>One Slurm job of a run: the candidate it evaluates, its job id, and its last known state ("submitted" while it has not ended).</summary>
public sealed record SlurmJobEntry(string Candidate, string Job, string State);

/// <summary>
/// results/&lt;run&gt;/slurm-jobs.jsonl: every job the run submitted, one line when it is submitted (written and flushed
/// to disk before the runner waits for it) and one when it ends. A runner killed with kill -9 leaves its jobs running on
/// the cluster; the resumed runner reads this file and re-attaches to each job that has no end line, by its id. It is
/// kept apart from the journal on purpose: job ids differ from run to run, and the journal of a Slurm run must be the
/// journal of the same run done locally. A torn last line (a kill while writing) is skipped.
/// </summary>
public sealed class SlurmJobLog(string path)
{
    private readonly Lock _gate = new();

    public string Path { get; } = path;

    public void Submitted(string candidate, string job, int attempt) =>
        Append(new JsonObject { ["event"] = "submitted", ["candidate"] = candidate, ["job"] = job, ["attempt"] = attempt });

    public void Ended(string candidate, string job, string state, string outcome) =>
        Append(new JsonObject { ["event"] = "ended", ["candidate"] = candidate, ["job"] = job, ["state"] = state, ["outcome"] = outcome });

    /// <summary>Every job in the order submitted, each with its last known state.</summary>
    public IReadOnlyList<SlurmJobEntry> Jobs()
    {
        var jobs = new List<SlurmJobEntry>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in Lines())
        {
            var (kind, candidate, job) = (line["event"]?.GetValue<string>(), line["candidate"]?.GetValue<string>(), line["job"]?.GetValue<string>());
            if (candidate is null || job is null)
            {
                continue;
            }

            if (kind == "submitted" && !index.ContainsKey(job))
            {
                index[job] = jobs.Count;
                jobs.Add(new SlurmJobEntry(candidate, job, "submitted"));
            }
            else if (kind == "ended" && index.TryGetValue(job, out var i))
            {
                jobs[i] = jobs[i] with { State = line["state"]?.GetValue<string>() ?? "ended" };
            }
        }

        return jobs;
    }

    /// <summary>Per candidate, the last job submitted for it that has no end line: what a resumed run re-attaches to.</summary>
    public IReadOnlyDictionary<string, string> Open() => Jobs().GroupBy(j => j.Candidate, StringComparer.Ordinal)
        .Select(g => g.Last()).Where(j => j.State == "submitted").ToDictionary(j => j.Candidate, j => j.Job, StringComparer.Ordinal);

    /// <summary>How many jobs were submitted for <paramref name="candidate"/> so far.</summary>
    public int Attempts(string candidate) => Jobs().Count(j => j.Candidate == candidate);

    private IEnumerable<JsonObject> Lines()
    {
        if (!File.Exists(Path))
        {
            yield break;
        }

        foreach (var text in File.ReadAllLines(Path))
        {
            JsonObject? line;
            try
            {
                line = JsonNode.Parse(text) as JsonObject;
            }
            catch (System.Text.Json.JsonException)
            {
                continue;
            }

            if (line is not null)
            {
                yield return line;
            }
        }
    }

    private void Append(JsonObject line)
    {
        lock (_gate)
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!);
            using var stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
            var bytes = Encoding.UTF8.GetBytes(line.ToJsonString() + "\n");
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }
    }
}
