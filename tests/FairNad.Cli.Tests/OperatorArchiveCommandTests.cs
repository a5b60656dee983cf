using System.Text.Json.Nodes;
using FairNad.Architecture;
using FairNad.Tests.Shared;

namespace FairNad.Cli.Tests;

using static Cli;

/// <summary>`fairnad operators list|show|promote` on a run folder whose archive holds the ghost module.</summary>
public sealed class OperatorArchiveCommandTests : IDisposable
{
    private static readonly string Ghost = OperatorSources.Hash(WrittenOperators.Ghost);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "fairnad-operators-cli-" + Guid.NewGuid().ToString("N"));

    public OperatorArchiveCommandTests()
    {
        var archive = OperatorArchive.OfRun(Path.Combine(Results, "run-a"));
        archive.Store.Put(WrittenOperators.Ghost);
        archive.Add(new OperatorEntry(Ghost, "GhostModule", "the contract", "operator.feature-extraction.ghost", "run-a", new string('c', 64), OperatorEntry.GeneratedLicence, []));
        Directory.CreateDirectory(Path.Combine(Results, "run-b"));
    }

    private string Results => Path.Combine(_root, "results");

    private string Knowledge => Path.Combine(_root, "knowledge");

    private OperatorArchive ArchiveA => OperatorArchive.OfRun(Path.Combine(Results, "run-a"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public void List_EveryRun_OneLinePerOperator()
    {
        var (code, output, error) = Run("operators", "list", "--results", Results);

        Assert.True(code == 0, error);
        Assert.Contains(Ghost[..19], output, StringComparison.Ordinal);
        Assert.Contains("GhostModule", output, StringComparison.Ordinal);
        Assert.Contains("not measured", output, StringComparison.Ordinal);
        Assert.Contains("operator.feature-extraction.ghost", output, StringComparison.Ordinal);
        Assert.EndsWith("1 operator(s) in 1 run(s)\n", output.ReplaceLineEndings("\n"), StringComparison.Ordinal);
    }

    [Fact]
    public void List_RunWithoutArchive_NoOperators()
    {
        var (code, output, _) = Run("operators", "list", "--run", "run-b", "--results", Results);

        Assert.Equal(0, code);
        Assert.Contains("0 operator(s) in 1 run(s)", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Show_ByPrefix_EntryCostsAndSource()
    {
        var (code, output, error) = Run("operators", "show", Ghost[7..17], "--results", Results);

        Assert.True(code == 0, error);
        Assert.Contains($"operator {Ghost}", output, StringComparison.Ordinal);
        Assert.Contains("costs      not measured", output, StringComparison.Ordinal);
        Assert.Contains("licence    generated", output, StringComparison.Ordinal);
        Assert.Contains("public sealed class GhostModule", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Show_Measured_TheMeasuredCosts()
    {
        File.WriteAllText(ArchiveA.CostsPath(Ghost), $$"""
            {"format":"fairnad-operator-costs-1","reference":"{{Ghost}}","costs":[{"inChannels":8,"outChannels":16,"stride":2,"height":28,"width":28,"parameters":200,"macs":39200}]}
            """);

        var (code, output, error) = Run("operators", "show", Ghost, "--run", "run-a", "--results", Results);

        Assert.True(code == 0, error);
        Assert.Contains("8 -> 16 channels, stride 2, 28 x 28: 200 parameters, 39,200 MACs", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Show_Unknown_UsageErrorNamingTheRun()
    {
        var (code, _, error) = Run("operators", "show", "abcdef", "--run", "run-a", "--results", Results);

        Assert.Equal(2, code);
        Assert.Contains("no operator abcdef in run 'run-a'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Promote_Reviewed_CopiesSourceAndEntryWithReviewer()
    {
        var (code, output, error) = Run("operators", "promote", Ghost, "--run", "run-a", "--reviewed-by", "A. Reviewer", "--date", "2026-11-30", "--knowledge", Knowledge, "--results", Results);

        Assert.True(code == 0, error);
        Assert.Contains("promoted " + Ghost, output, StringComparison.Ordinal);
        var hex = Ghost[7..];
        Assert.Equal(WrittenOperators.Ghost, File.ReadAllText(Path.Combine(Knowledge, "operators", hex + ".cs")));
        var entry = JsonNode.Parse(File.ReadAllText(Path.Combine(Knowledge, "operators", hex + ".json")))!;
        Assert.Equal("A. Reviewer", entry["reviewedBy"]!.GetValue<string>());
        Assert.Equal("2026-11-30", entry["reviewedOn"]!.GetValue<string>());
        Assert.Equal("run-a", entry["run"]!.GetValue<string>());
        Assert.Equal("generated", entry["licence"]!.GetValue<string>());
        Assert.Equal(ArchiveA.Get(Ghost).ToJson(), OperatorEntry.Read(entry.ToJsonString(), "promoted").ToJson());

        var again = Run("operators", "promote", Ghost, "--run", "run-a", "--reviewed-by", "Someone Else", "--knowledge", Knowledge, "--results", Results);
        Assert.Equal(2, again.Code);
        Assert.Contains("promoted already", again.Error, StringComparison.Ordinal);
        Assert.Equal("A. Reviewer", JsonNode.Parse(File.ReadAllText(Path.Combine(Knowledge, "operators", hex + ".json")))!["reviewedBy"]!.GetValue<string>());
    }

    [Fact]
    public void Promote_NoDate_NoDateRecorded()
    {
        var (code, _, error) = Run("operators", "promote", Ghost[7..20], "--run", "run-a", "--reviewed-by", "R", "--knowledge", Knowledge, "--results", Results);

        Assert.True(code == 0, error);
        Assert.Null(JsonNode.Parse(File.ReadAllText(Path.Combine(Knowledge, "operators", Ghost[7..] + ".json")))!["reviewedOn"]);
    }

    [Fact]
    public void Promote_TamperedSource_RefusedNamingTheFile()
    {
        File.AppendAllText(ArchiveA.SourcePath(Ghost), "\n// a later edit\n");

        var (code, _, error) = Run("operators", "promote", Ghost, "--run", "run-a", "--reviewed-by", "R", "--knowledge", Knowledge, "--results", Results);

        Assert.Equal(2, code);
        Assert.Contains(ArchiveA.SourcePath(Ghost), error, StringComparison.Ordinal);
        Assert.Contains("changed", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(Knowledge, "operators")));
    }

    [Fact]
    public void Promote_SourceWithoutEntry_RefusedAsUnverified()
    {
        var other = ArchiveA.Store.Put(WrittenOperators.GatedMlp);

        var (code, _, error) = Run("operators", "promote", other, "--run", "run-a", "--reviewed-by", "R", "--knowledge", Knowledge, "--results", Results);

        Assert.Equal(2, code);
        Assert.Contains("has no archive entry", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(Knowledge, "operators")));
    }

    [Fact]
    public void Promote_BadDate_UsageError()
    {
        var (code, _, error) = Run("operators", "promote", Ghost, "--run", "run-a", "--reviewed-by", "R", "--date", "30.11.2026", "--knowledge", Knowledge, "--results", Results);

        Assert.Equal(2, code);
        Assert.Contains("--date '30.11.2026'", error, StringComparison.Ordinal);
    }
}
