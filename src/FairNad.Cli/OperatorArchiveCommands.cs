using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using FairNad.Architecture;

namespace FairNad.Cli;

/// <summary>
/// `fairnad operators list|show|promote`: the operator archives of runs (<c>results/&lt;run&gt;/operators/</c>, see
/// <see cref="OperatorArchive"/>) and the reviewed step that copies an entry into the curated library
/// (<c>knowledge/operators/</c>). Reading is read-only; promotion writes only new files and never the clock: the review
/// date is an option, so the same command gives the same files.
/// </summary>
internal static class OperatorArchiveCommands
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>The folder of the curated library that holds promoted operators.</summary>
    public const string KnowledgeFolder = "operators";

    public static IEnumerable<Command> Commands(TextWriter output)
    {
        var results = new Option<string>("--results") { Description = "Folder of run folders.", DefaultValueFactory = _ => "results" };
        var run = new Option<string?>("--run") { Description = "The run (default: every run under --results)." }.RunName();
        var requiredRun = new Option<string>("--run") { Description = "The run whose archive holds the operator.", Required = true }.RunName();
        var reference = new Argument<string>("reference") { Description = "sha256:<hex>, or a unique prefix of the hex digest (at least 6 characters)." };

        var list = new Command("list", "List the operators runs introduced: reference, class, attribute, candidate and whether its cost was measured.") { run, results };
        list.SetAction(r => List(r.GetValue(results)!, r.GetValue(run), output));

        var show = new Command("show", "Show an archived operator: its entry, its measured costs (or \"not measured\") and its source.") { reference, run, results };
        show.SetAction(r => Show(r.GetValue(results)!, r.GetValue(run), r.GetValue(reference)!, output));

        var reviewer = new Option<string>("--reviewed-by") { Description = "Who reviewed the operator's source (recorded in the promoted entry).", Required = true };
        var knowledge = new Option<string>("--knowledge") { Description = "The curated library folder.", DefaultValueFactory = _ => "knowledge" };
        var date = new Option<string?>("--date") { Description = "The review date, YYYY-MM-DD (recorded as given; omitted when not given, never read from the clock)." };
        var promote = new Command("promote", "Copy a verified operator's source and entry into <knowledge>/operators/<hex>.cs and .json, with its reviewer; refuses a tampered or unarchived operator.")
        {
            reference, requiredRun, reviewer, knowledge, date, results,
        };
        promote.SetAction(r => Promote(r.GetValue(results)!, r.GetValue(requiredRun)!, r.GetValue(reference)!, r.GetValue(reviewer)!, r.GetValue(knowledge)!, r.GetValue(date), output));
        return [list, show, promote];
    }

    public static int List(string results, string? run, TextWriter output)
    {
        var archives = Archives(results, run);
        output.WriteLine($"{"reference",-19}  {"class",-24}  {"candidate",-12}  {"costs",-12}  {"run",-24}  attribute");
        var count = 0;
        foreach (var (name, archive) in archives)
        {
            foreach (var entry in Read(() => archive.Entries()))
            {
                var measured = Read(() => archive.CostsOf(entry)).Count > 0 ? "measured" : "not measured";
                output.WriteLine($"{Short(entry.Reference),-19}  {entry.ClassName,-24}  {entry.Candidate[..Math.Min(12, entry.Candidate.Length)],-12}  {measured,-12}  {name,-24}  {entry.Attribute}");
                count++;
            }
        }

        output.WriteLine(string.Create(Invariant, $"{count} operator(s) in {archives.Count} run(s)"));
        return 0;
    }

    public static int Show(string results, string? run, string reference, TextWriter output)
    {
        var (name, archive, full) = Locate(results, run, reference);
        var entry = Read(() => archive.Get(full));
        var measured = Read(() => archive.MeasuredCosts(full));
        var text = new StringBuilder();
        text.Append(Invariant, $"operator {entry.Reference}\n");
        text.Append(Invariant, $"class      {entry.ClassName}\n");
        text.Append(Invariant, $"attribute  {entry.Attribute}\n");
        text.Append(Invariant, $"run        {entry.Run} (archive of {name}: {archive.Directory})\n");
        text.Append(Invariant, $"candidate  {entry.Candidate}\n");
        text.Append(Invariant, $"licence    {entry.Licence}\n");
        text.Append(Invariant, $"contract   {entry.Contract}\n");
        text.Append("costs      ").Append(OperatorArchive.DescribeCosts(measured ?? entry.Costs).Replace("\n", "\n           ", StringComparison.Ordinal))
            .Append(measured is null && entry.Costs.Count > 0 ? " (from the entry)" : string.Empty).Append('\n');
        text.Append(Invariant, $"source     {archive.SourcePath(full)}\n\n");
        text.Append(archive.Store.Get(full));
        output.Write(text.ToString());
        return 0;
    }

    public static int Promote(string results, string run, string reference, string reviewer, string knowledge, string? date, TextWriter output)
    {
        if (string.IsNullOrWhiteSpace(reviewer))
        {
            throw new UsageException("--reviewed-by must name the reviewer");
        }

        if (date is not null && !DateOnly.TryParseExact(date, "yyyy-MM-dd", Invariant, DateTimeStyles.None, out _))
        {
            throw new UsageException($"--date '{date}' is not a date YYYY-MM-DD");
        }

        var (_, archive, full) = Locate(results, run, reference);
        if (!archive.Contains(full))
        {
            throw new UsageException($"{archive.EntryPath(full)}: operator {full} has no archive entry, so it was not verified as part of run '{run}'; only archived operators can be promoted");
        }

        // Get checks the entry and that the source still hashes to its reference: a hand-edited source is refused here.
        var entry = Read(() => archive.Get(full));
        if (entry.Licence != OperatorEntry.GeneratedLicence)
        {
            throw new UsageException($"{archive.EntryPath(full)}: field 'licence' is '{entry.Licence}', not '{OperatorEntry.GeneratedLicence}'; only generated operators can be promoted");
        }

        var source = Read(() => archive.Store.Get(full));
        var costs = Read(() => archive.CostsOf(entry));
        var target = Path.Combine(knowledge, KnowledgeFolder);
        var sourceTarget = Path.Combine(target, OperatorSources.FileName(full));
        var entryTarget = Path.Combine(target, Path.GetFileName(archive.EntryPath(full)));
        if (File.Exists(entryTarget))
        {
            throw new UsageException($"{entryTarget} exists: operator {full} was promoted already; nothing was changed");
        }

        var promoted = JsonNode.Parse((entry with { Costs = costs }).ToJson())!.AsObject();
        promoted["reviewedBy"] = reviewer.Trim();
        if (date is not null)
        {
            promoted["reviewedOn"] = date;
        }

        Directory.CreateDirectory(target);
        new OperatorStore(target).Put(source);
        var temporary = entryTarget + ".tmp";
        File.WriteAllText(temporary, promoted.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping })
            .Replace("\r\n", "\n", StringComparison.Ordinal) + "\n", new UTF8Encoding(false));
        File.Move(temporary, entryTarget, overwrite: false);
        output.WriteLine($"promoted {full} ({entry.ClassName}, attribute {entry.Attribute}) from run '{run}', reviewed by {reviewer.Trim()}{(date is null ? string.Empty : $" on {date}")}: {sourceTarget}, {entryTarget}");
        return 0;
    }

    /// <summary>The archives under <paramref name="results"/>: of <paramref name="run"/>, or of every run folder that has one, by name.</summary>
    private static List<(string Run, OperatorArchive Archive)> Archives(string results, string? run)
    {
        if (run is not null)
        {
            var directory = Path.Combine(results, run);
            return Directory.Exists(directory)
                ? [(run, OperatorArchive.OfRun(directory))]
                : throw new UsageException($"--run {run}: no run folder {directory}");
        }

        if (!Directory.Exists(results))
        {
            throw new UsageException($"--results {results}: no such folder");
        }

        return Directory.GetDirectories(results).Select(d => (Run: Path.GetFileName(d), Archive: OperatorArchive.OfRun(d)))
            .Where(x => x.Archive.References().Count > 0).OrderBy(x => x.Run, StringComparer.Ordinal).ToList();
    }

    /// <summary>The run and archive holding the one operator <paramref name="reference"/> (a reference or a unique hex prefix) names.</summary>
    private static (string Run, OperatorArchive Archive, string Reference) Locate(string results, string? run, string reference)
    {
        var hex = reference.StartsWith(OperatorSources.Prefix, StringComparison.Ordinal) ? reference[OperatorSources.Prefix.Length..] : reference;
        if (hex.Length < 6 || hex.Length > 64 || !hex.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f'))
        {
            throw new UsageException($"'{reference}' is not an operator reference: give sha256:<hex> or at least 6 lower-case hex digits of it");
        }

        var matches = Archives(results, run)
            .SelectMany(a => Sources(a.Archive).Where(r => r[OperatorSources.Prefix.Length..].StartsWith(hex, StringComparison.Ordinal)).Select(r => (a.Run, a.Archive, Reference: r)))
            .ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new UsageException($"no operator {reference} in {(run is null ? $"any run under {results}" : $"run '{run}'")}"),
            _ => throw new UsageException($"'{reference}' matches {matches.Count} operators ({string.Join(", ", matches.Select(m => $"{Short(m.Reference)} in {m.Run}"))}); give more digits or --run"),
        };
    }

    /// <summary>The references of an archive's entries and of sources without one (so that promoting such a source says why it cannot be).</summary>
    private static IEnumerable<string> Sources(OperatorArchive archive) =>
        !Directory.Exists(archive.Directory)
            ? []
            : Directory.GetFiles(archive.Directory, "*.cs").Select(f => OperatorSources.Prefix + Path.GetFileNameWithoutExtension(f))
                .Concat(archive.References()).Where(OperatorSources.IsReference).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);

    private static string Short(string reference) => reference[..(OperatorSources.Prefix.Length + 12)];

    /// <summary>Archive errors (an unreadable entry, a changed source) are bad input: their message names the file.</summary>
    private static T Read<T>(Func<T> read)
    {
        try
        {
            return read();
        }
        catch (InvalidDataException e)
        {
            throw new UsageException(e.Message);
        }
    }
}
