using FairNad.Architecture;

namespace FairNad.Cli.Tests;

using static Cli;

/// <summary>`fairnad bench nb201 --table`: a generated CSV end to end, and bad input as one clear line.</summary>
public sealed class BenchNb201TableTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-cli-nb201-table-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Table(string name = "latency-table.csv")
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllLines(path, ["score b,arch,score a", .. Enumerable.Range(0, 60).Select(i => $"{i % 7},{Nb201.CellAt(i * 211)},{i}")]);
        return path;
    }

    [Fact]
    public void BenchNb201_TableWithOtherColumns_WritesMarkdownNamedByTheFile()
    {
        var folder = Path.Combine(_directory, "out");

        var (code, output, error) = Run("bench", "nb201", "--table", Table(), "--query-column", "score a", "--report-column", "score b",
            "--strategies", "rea", "fairnad", "--seeds", "2", "--budgets", "5", "300", "--out", folder);

        Assert.True(code == 0, output + error);
        Assert.Contains("- `latency-table`: latency-table.csv, cell column 'arch' (recognised by its values), 60 cells; 15,565 of the 15,625 are missing", output, StringComparison.Ordinal);
        Assert.Contains("cost axis: parameter count at 3x32x32, 10 classes (cifar10 by default", output, StringComparison.Ordinal);
        Assert.Contains("### latency-table (optimum 6.00)", output, StringComparison.Ordinal);
        Assert.Contains("| 300 | rea |", output, StringComparison.Ordinal);
        var markdown = File.ReadAllText(Path.Combine(folder, "benchmark.md"));
        Assert.Contains("Regenerate: `fairnad bench nb201 --table latency-table.csv --query-column 'score a' --report-column 'score b' --seeds 2 --budgets 5 300 --out DIR`", markdown, StringComparison.Ordinal);
        Assert.Contains(output, markdown, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(folder, "anytime-latency-table.png")));
    }

    [Theory]
    [InlineData("--table {missing}", "fairnad: table {missing} does not exist")]
    [InlineData("--table {table} --query-column nope", "fairnad: {table}: no column 'nope' (--query-column); the columns are: 'score b', 'arch', 'score a'")]
    [InlineData("--table {table} --datasets cifar100", "fairnad: --table and --datasets exclude each other")]
    [InlineData("--query-column x", "fairnad: --query-column, --report-column and --input apply to --table CSVs")]
    [InlineData("--table {table} {table} --query-column score+a --report-column score+b", "would both be dataset 'latency-table'")]
    public void BenchNb201_BadTableInput_OneClearLine(string arguments, string expected)
    {
        var table = Table();
        var missing = Path.Combine(_directory, "missing.csv");
        string Expand(string text) => text.Replace("{table}", table, StringComparison.Ordinal).Replace("{missing}", missing, StringComparison.Ordinal);

        var (code, _, error) = Run(["bench", "nb201", "--seeds", "1", "--budgets", "1", .. Expand(arguments).Split(' ').Select(a => a.Replace('+', ' '))]);

        Assert.Equal(2, code);
        Assert.Contains(Expand(expected), error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }
}
