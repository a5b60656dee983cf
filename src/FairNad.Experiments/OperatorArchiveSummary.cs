using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using FairNad.Architecture;
using FairNad.Knowledge;

namespace FairNad.Experiments;

/// <summary>An operator a run introduced: its archive entry, the candidate record that introduced it, and its costs (measured, or the entry's).</summary>
public sealed record IntroducedOperator(OperatorEntry Entry, CandidateRecord Candidate, IReadOnlyList<OperatorCost> Costs);

/// <summary>
/// What a run's operator archive added to the search, for its summary and its report: the operators recorded candidates
/// introduced (an entry whose candidate never made it into the journal, because the run stopped first, counts for
/// nothing, as it did in the search), and the attribute tree's realised share before the run and after, with those
/// operators as realisations of their attributes (<see cref="OperatorRealisations"/>).
/// </summary>
public static class OperatorArchiveSummary
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>The manifest's field (under "knowledge") that lists the attributes without a realisation when the run started.</summary>
    public const string UnrealisedField = "unrealised";

    /// <summary>The operators recorded candidates of the run in <paramref name="runDirectory"/> introduced, by reference.</summary>
    /// <exception cref="InvalidDataException">an entry is unreadable or its source was changed (the message names the file).</exception>
    public static IReadOnlyList<IntroducedOperator> Introduced(string runDirectory, IReadOnlyList<CandidateRecord> records)
    {
        var archive = OperatorArchive.OfRun(runDirectory);
        var byCandidate = records.Where(r => !r.IsNoise).GroupBy(r => r.Candidate, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.MinBy(r => r.Index)!, StringComparer.Ordinal);
        return archive.Entries()
            .Where(e => byCandidate.ContainsKey(e.Candidate))
            .Select(e => new IntroducedOperator(e, byCandidate[e.Candidate], archive.CostsOf(e)))
            .ToList();
    }

    /// <summary>The realised share of <paramref name="tree"/> and of the tree with the introduced operators as realisations.</summary>
    public static (RealisedShare Before, RealisedShare After) Shares(AttributeTree tree, IReadOnlyList<IntroducedOperator> introduced) =>
        (RealisedShare.Of(tree), RealisedShare.Of(tree.WithOperators(introduced.Select(i => i.Entry))));

    /// <summary>
    /// The same shares from a run's manifest (its knowledge counts and <see cref="UnrealisedField"/>), for a report that
    /// has the run folder but not the tree; null when the manifest does not hold them (a run that did not write operators).
    /// </summary>
    public static (RealisedShare Before, RealisedShare After)? Shares(JsonNode? manifest, IReadOnlyList<IntroducedOperator> introduced)
    {
        if (manifest?["knowledge"] is not JsonObject knowledge || knowledge[UnrealisedField] is not JsonArray unrealised
            || knowledge["attributes"]?.GetValue<int>() is not { } attributes || knowledge["realised"]?.GetValue<int>() is not { } realised)
        {
            return null;
        }

        var open = unrealised.Select(u => u?.GetValue<string>()).ToHashSet(StringComparer.Ordinal);
        var gained = introduced.Select(i => i.Entry.Attribute).Distinct(StringComparer.Ordinal).Count(open.Contains);
        return (new RealisedShare(realised, attributes), new RealisedShare(realised + gained, attributes));
    }

    /// <summary>The ids of the attributes of <paramref name="tree"/> without a realisation, sorted, for the manifest.</summary>
    public static JsonArray Unrealised(AttributeTree tree) =>
        [.. tree.Attributes.Where(a => a.Attribute.Realisations.Count == 0).Select(a => a.Attribute.Id).Order(StringComparer.Ordinal).Select(id => (JsonNode)id)];

    /// <summary>
    /// The "Written operators" section of a summary or report: the shares, then one row per operator with the candidate
    /// that introduced it and that candidate's commit (on its branch <c>fairnad/&lt;run&gt;/&lt;candidate id&gt;</c>).
    /// </summary>
    public static string Markdown((RealisedShare Before, RealisedShare After)? shares, IReadOnlyList<IntroducedOperator> introduced)
    {
        var text = new StringBuilder("\n## Written operators\n\n");
        if (shares is var (before, after))
        {
            text.Append(Invariant, $"Attributes with a realisation: {before} before the run, {after} after it (each operator below realises the attribute it was written for).\n\n");
        }

        if (introduced.Count == 0)
        {
            text.Append("The run introduced no operator.\n");
            return text.ToString();
        }

        text.Append("| reference | class | attribute | candidate | commit | costs |\n|---|---|---|---|---|---|\n");
        foreach (var o in introduced)
        {
            var commit = o.Candidate.Commit.Length >= 10 ? o.Candidate.Commit[..10] : o.Candidate.Commit;
            var costs = o.Costs.Count == 0 ? "not measured" : string.Join("; ", o.Costs.Select(c => string.Create(Invariant, $"{c.InChannels}->{c.OutChannels}/s{c.Stride} at {c.Height}x{c.Width}: {c.Parameters:N0} params, {c.Macs:N0} MACs")));
            text.Append(Invariant, $"| `{o.Entry.Reference[..(OperatorSources.Prefix.Length + 12)]}` | {o.Entry.ClassName} | {o.Entry.Attribute} | #{o.Candidate.Index} `{o.Candidate.Candidate[..12]}` | `{commit}` | {costs} |\n");
        }

        text.Append("\nShow one with `fairnad operators show <reference> --run <run>`; promote it into knowledge/operators/ after review with `fairnad operators promote`.\n");
        return text.ToString();
    }
}
