using System.CommandLine;
using System.Reflection;
using FairNad.Build.Engine;
using FairNad.Experiments;

namespace FairNad.Cli.Tests;

/// <summary>
/// The search options are described once, in <see cref="ExperimentOptions"/> (and, for the request's own options, in
/// SearchCommands). The build cannot reference that table (FairNad.Experiments brings libtorch), so these tests hold its
/// Search parameters to the CLI's options instead: same flag, same description.
/// </summary>
public sealed class SearchOptionTests
{
    private static readonly Command Search = SearchCommands.Command(TextWriter.Null, TextWriter.Null);

    public static TheoryData<string> BuildSearchParameters() => [.. global::Build.SearchParameters().Select(p => p.Field.Name)];

    [Theory]
    [MemberData(nameof(BuildSearchParameters))]
    public void BuildSearchParameter_ForwardedFlag_IsAFairnadSearchOptionWithItsDescription(string field)
    {
        var (member, flag) = global::Build.SearchParameters().Single(p => p.Field.Name == field);
        var build = member.GetCustomAttribute<ParameterAttribute>()!.Description;
        var option = Search.Options.SingleOrDefault(o => o.Name == flag);

        Assert.True(option is not null, $"build parameter {field} is forwarded as {flag}, which `fairnad search` does not have");
        // A parameter other targets read too (Llm for Extract, Run for Lineage) may add what they do with it, after the CLI's sentence.
        if (build != option.Description)
        {
            Assert.StartsWith(option.Description + " ", build, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void SearchCommand_Options_IncludeEveryExperimentOverrideWithTheTablesDescription()
    {
        foreach (var entry in ExperimentOptions.All)
        {
            var option = Search.Options.Single(o => o.Name == entry.Flag);
            Assert.Equal(entry.Description, option.Description);
        }
    }

    [Fact]
    public void SearchCommand_Overrides_SetTheRecordFieldsAsBefore()
    {
        var result = Search.Parse(["--seed", "4", "--candidates", "9", "--minutes", "2.5", "--strategy", "rea", "--llm", "ollama:m", "--llm-timeout", "900", "--jobs", "3",
            "--in-process", "--params", "12345", "--epochs", "2", "--device", "cuda:1"]);
        var overrides = ExperimentOptions.All.Aggregate(new ExperimentOverrides(), (o, entry) => entry.Accept(new Reader(result, o)));

        Assert.Empty(result.Errors);
        Assert.Equal(new ExperimentOverrides(4, 9, 2.5, "rea", "auto", "m", 3, false, 12345, 2, "cuda:1", LlmTimeout: 900), overrides);
    }

    [Fact]
    public void SearchCommand_LlmStallTimeout_SetsOnlyThatOverride()
    {
        var result = Search.Parse(["--llm-stall-timeout", "120"]);
        var overrides = ExperimentOptions.All.Aggregate(new ExperimentOverrides(), (o, entry) => entry.Accept(new Reader(result, o)));

        Assert.Empty(result.Errors);
        Assert.Equal(new ExperimentOverrides(LlmStallTimeout: 120), overrides);
    }

    [Fact]
    public void SearchCommand_NoOverrides_LeavesEveryFieldUnset()
    {
        var result = Search.Parse([]);
        var overrides = ExperimentOptions.All.Aggregate(new ExperimentOverrides(), (o, entry) => entry.Accept(new Reader(result, o)));

        Assert.Equal(new ExperimentOverrides(), overrides);
    }

    /// <summary>Reads an entry's value from a parse of the search command the way the command does, by its flag.</summary>
    private sealed class Reader(ParseResult result, ExperimentOverrides overrides) : IExperimentOptionVisitor<ExperimentOverrides>
    {
        public ExperimentOverrides Visit<T>(ExperimentOption<T> option) => option.Set(overrides, result.GetValue<T>(option.Flag)!);
    }
}
