using System.Text.RegularExpressions;
using FairNad.Lineage;

namespace FairNad.Experiments.Tests;

/// <summary>The space section's searchedParameters: read, checked, recorded, and used alike by every strategy (on the table-like evaluator, fast).</summary>
public sealed partial class SearchedParametersRunTests : IDisposable
{
    private readonly SearchFixture _a = new();
    private readonly SearchFixture _b = new();

    private static string Shipped(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "experiments", $"{name}.json"));

    /// <summary>The quickstart with a space section before its own "population" field (not a profile's: profiles may not set space).</summary>
    private static string QuickstartWithSpace(string section)
    {
        var json = Shipped("quickstart");
        var at = json.IndexOf("\"population\":", StringComparison.Ordinal);
        return json.Insert(at, $"\"space\": {{ {section} }},\n  ");
    }

    private static readonly IReadOnlyDictionary<string, IReadOnlyList<double>> Domains =
        new Dictionary<string, IReadOnlyList<double>> { ["kernel"] = [3, 5, 7], ["expand"] = [2, 3, 4, 6] };

    /// <summary>The tiny experiment with the kernel and the expansion ratio searched.</summary>
    private static Experiment Searched => SearchFixture.Tiny with { Space = new SpaceOptions(SearchedParameters: Domains), Candidates = 14 };

    [GeneratedRegex(@"\[drawn (kernel|expand)=(\d+) of \{([\d, ]+)\}\]")]
    private static partial Regex Drawn();

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    [Fact]
    public void Read_SearchedParameters_ReadInCanonicalOrderAndRoundTrips()
    {
        var json = QuickstartWithSpace("\"searchedParameters\": { \"kernel\": [3, 5, 7], \"expand\": [2, 3, 4, 6] }");

        var experiment = ExperimentFile.Read(json, "q.json");

        Assert.Equal(["expand", "kernel"], experiment.Space!.SearchedParameters!.Keys);
        Assert.Equal([3.0, 5.0, 7.0], experiment.Space.SearchedParameters["kernel"]);
        Assert.Contains("\"searchedParameters\": {\n      \"expand\": [\n        2,", experiment.ToJson(), StringComparison.Ordinal);
        Assert.Equal(experiment.ToJson(), ExperimentFile.Read(experiment.ToJson(), "round trip").ToJson());
        Assert.NotEqual(ExperimentFile.Read(Shipped("quickstart"), "q").ToJson(), experiment.ToJson());
    }

    [Theory]
    [InlineData("\"searchedParameters\": { \"groups\": [2, 4, 8] }", "space.searchedParameters.groups: not a searchable transform parameter (searchable: blocks, expand, factor, heads, init, kernel, p, patch, stride)")]
    [InlineData("\"searchedParameters\": { \"kernel\": [] }", "space.searchedParameters.kernel: the domain is empty")]
    [InlineData("\"searchedParameters\": { \"kernel\": [3, 0] }", "space.searchedParameters.kernel[1]: 0 is not positive")]
    [InlineData("\"searchedParameters\": { \"expand\": [2, -4] }", "space.searchedParameters.expand[1]: -4 is not positive")]
    [InlineData("\"searchedParameters\": { \"kernel\": [3, 11] }", "space.searchedParameters.kernel[1]: 11 is outside 1..7, which add_parallel_branch accepts")]
    [InlineData("\"searchedParameters\": { \"kernel\": [4.5] }", "space.searchedParameters.kernel[0]: 4.5 is not a whole number")]
    [InlineData("\"searchedParameters\": { \"kernel\": [\"3\"] }", "space.searchedParameters.kernel[0]: must be a number")]
    [InlineData("\"searchedParameters\": { \"kernel\": 3 }", "space.searchedParameters.kernel: must be an array of numbers")]
    [InlineData("\"searchedParameters\": [3, 5]", "space.searchedParameters: must be an object of named arrays of numbers")]
    [InlineData("\"searchedParameters\": {}", "space.searchedParameters: name at least one parameter")]
    public void Read_BadSearchedParameters_ErrorNamesTheFileAndField(string section, string expected)
    {
        var json = QuickstartWithSpace(section);

        var e = Assert.Throws<ExperimentException>(() => ExperimentFile.Read(json, "q.json"));

        Assert.StartsWith($"q.json: {expected}", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("fairnad", FairNad.Search.MutationTypes.FairIdea)]
    [InlineData("rea", "mutation")]
    [InlineData("random", "random")]
    public void Run_SearchedParameters_EveryStrategyDrawsFromTheDomainsAndRecordsTheValues(string strategy, string mutationType)
    {
        _a.Write(Searched);

        var outcome = SearchFixture.Run(_a.Request(new ExperimentOverrides(Strategy: strategy))).Single();

        var drawn = outcome.Candidates.SelectMany(c => Drawn().Matches(c.Summary).Select(m => (Candidate: c, Name: m.Groups[1].Value, Value: double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), Domain: m.Groups[3].Value))).ToList();
        Assert.NotEmpty(drawn);
        Assert.All(drawn, d => Assert.Contains(d.Value, Domains[d.Name]));
        Assert.All(drawn, d => Assert.Equal(string.Join(", ", Domains[d.Name]), d.Domain));
        Assert.Contains(drawn, d => d.Candidate.MutationType == mutationType);
        using var store = LineageStore.Open(_a.Root);
        var named = drawn.First();
        Assert.Contains(Drawn().Match(named.Candidate.Summary).Value, store.Message(named.Candidate.Commit), StringComparison.Ordinal);
        Assert.Contains("\"searchedParameters\"", File.ReadAllText(new RunArchive(outcome.RunDirectory).ExperimentPath), StringComparison.Ordinal);
    }

    [Fact]
    public void Run_SearchedParameters_DifferentCandidatesThanFixedValuesButSameSeeds()
    {
        _a.Write(Searched);
        _b.Write(Searched with { Space = null });

        var searched = SearchFixture.Run(_a.Request()).Single();
        var fixedValues = SearchFixture.Run(_b.Request()).Single();

        Assert.Equal(fixedValues.Candidates.Take(4).Select(c => c.Candidate), searched.Candidates.Take(4).Select(c => c.Candidate));
        Assert.NotEqual(fixedValues.Candidates.Select(c => c.Candidate), searched.Candidates.Select(c => c.Candidate));
        Assert.DoesNotContain(fixedValues.Candidates, c => c.Summary.Contains("[drawn ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Reproduce_SearchedParameters_SameCandidatesCommitsAndMetrics()
    {
        _a.Write(Searched);
        var outcome = SearchFixture.Run(_a.Request()).Single();
        _a.Write(SearchFixture.Tiny);

        var report = await Reproduction.RunAsync(_a.Results, outcome.Run, WorkerCommand.ForAssembly("fairnad.dll"), null, evaluator: _ => new SyntheticEvaluator());

        Assert.True(report.Passed, string.Join("\n", report.Differences));
        Assert.Equal(14, report.Compared);
        Assert.Contains(outcome.Candidates, c => Drawn().IsMatch(c.Summary));
    }

    [Fact]
    public void Resume_SearchedParameters_SameResultAsUninterrupted()
    {
        _a.Write(Searched);
        _b.Write(Searched);
        var uninterrupted = SearchFixture.Run(_b.Request()).Single();
        using var cancel = new CancellationTokenSource();

        Assert.ThrowsAny<OperationCanceledException>(() => SearchFixture.Run(_a.Request(), p =>
        {
            if (p.Done == 6)
            {
                cancel.Cancel();
            }
        }, cancel.Token));

        // The resume reads the run folder's copy of the experiment: the file itself no longer searches anything.
        _a.Write(SearchFixture.Tiny);
        var resumed = SearchFixture.Run(_a.Request(resume: "tiny-fairnad-s0")).Single();

        Assert.Equal(SearchFixture.Fingerprint(uninterrupted.Candidates), SearchFixture.Fingerprint(resumed.Candidates));
        Assert.Equal(uninterrupted.Candidates.Select(c => c.Summary), resumed.Candidates.Select(c => c.Summary));
        Assert.Contains(resumed.Candidates, c => Drawn().IsMatch(c.Summary));
    }
}
