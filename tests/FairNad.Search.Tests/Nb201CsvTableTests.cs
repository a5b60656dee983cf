using System.Globalization;
using FairNad.Architecture;

namespace FairNad.Search.Tests;

/// <summary>`--table` tables: a small generated CSV whose columns are named and ordered unlike NAS-Bench-201's, and each bad input.</summary>
public sealed class Nb201CsvTableTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-nb201-table-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>Cells 0, 97, ..: query = a made-up score, report = another; the cell column sits third and is called "genotype".</summary>
    private string Write(string name, int cells = 8, Func<int, string>? line = null, string header = "shown score,hidden score,genotype,note")
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllLines(path, [header, .. Enumerable.Range(0, cells).Select(i => line?.Invoke(i) ??
            string.Create(CultureInfo.InvariantCulture, $"{50 + i},{40 + (i % 3)},{Nb201.CellAt(i * 97)},\"a note, with a comma\""))]);
        return path;
    }

    [Fact]
    public void Load_CellColumnNamedOtherwise_RecognisedByItsValues()
    {
        var path = Write("hw-nas-bench-like.csv");

        var table = Nb201CsvTable.Load(path, "shown score", "hidden score");

        Assert.Equal(("hw-nas-bench-like", "genotype", 8, Nb201.CellCount - 8), (table.Name, table.CellColumn, table.Rows.Count, table.Missing));
        Assert.Equal((57.0, 41.0), table.Rows[Nb201.CellAt(7 * 97)]);
        var evaluator = table.Evaluator(Nb201.InputFor("cifar10"));
        Assert.Equal(50, evaluator.Evaluate(Nb201.CellAt(0)).Accuracy);
        Assert.Equal(ArchitectureAnalyzer.Analyze(Nb201.ToSpec(Nb201.CellAt(97), new InputSpec(3, 32, 10))).Parameters, evaluator.Evaluate(Nb201.CellAt(97)).Cost);
        Assert.Equal("not-in-table", evaluator.Evaluate(Nb201.CellAt(1)).Failure);
    }

    [Fact]
    public void Run_HandfulOfCells_RunsAndReportsOnlyCellsOfTheTable()
    {
        var table = Nb201CsvTable.Load(Write("small.csv", cells: 40), "shown score", "hidden score");
        var evaluator = table.Evaluator(Nb201.InputFor("cifar10"));
        var settings = new Nb201BenchmarkSettings([table.Name], ["random", "rea", "fairnad"], [50, 1500], 3, "shown score", "hidden score");

        var result = Nb201Benchmark.Run(settings, _ => evaluator);
        var markdown = Nb201Benchmark.Markdown(result);

        Assert.All(result.Rows.SelectMany(r => r.Test).Where(double.IsFinite), t => Assert.InRange(t, 40, 42));
        Assert.Equal(42, result.Rows[0].Optimum);
        Assert.Contains("the best 'shown score' so far", markdown, StringComparison.Ordinal);
        Assert.Contains("| strategy | shown score | hidden score | regret |", markdown, StringComparison.Ordinal);
        Assert.Equal(4, result.Comparisons.Count);
    }

    [Fact]
    public void InputFor_FileNameOrOption_ParameterCountInput()
    {
        Assert.Equal(new InputSpec(3, 16, 120), Nb201CsvTable.InputFor("x/NATS-tss-ImageNet16-120.csv", null).Input);
        Assert.Equal(new InputSpec(3, 32, 100), Nb201CsvTable.InputFor("nb201_cifar100.csv", null).Input);
        Assert.Equal(new InputSpec(3, 32, 10), Nb201CsvTable.InputFor("nb201_cifar10-valid.csv", null).Input);
        Assert.Equal(new InputSpec(3, 32, 10), Nb201CsvTable.InputFor("latency.csv", null).Input);
        Assert.Equal(new InputSpec(3, 32, 100), Nb201CsvTable.InputFor("latency.csv", "cifar100").Input);
    }

    [Fact]
    public void Load_MissingFile_NamesTheFile()
    {
        var path = Path.Combine(_directory, "nope.csv");

        var error = Assert.Throws<FileNotFoundException>(() => Nb201CsvTable.Load(path, "a", "b"));

        Assert.Contains($"table {path} does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_UnknownColumn_NamesItAndListsTheColumns()
    {
        var path = Write("t.csv");

        var error = Assert.Throws<FormatException>(() => Nb201CsvTable.Load(path, "shown score", "test accuracy"));

        Assert.Equal($"{path}: no column 'test accuracy' (--report-column); the columns are: 'shown score', 'hidden score', 'genotype', 'note'", error.Message);
    }

    [Fact]
    public void Load_NoCellColumn_NamesTheFileAndTheFormat()
    {
        var path = Write("t.csv", line: i => $"{i},{i},not a cell,x");

        var error = Assert.Throws<FormatException>(() => Nb201CsvTable.Load(path, "shown score", "hidden score"));

        Assert.StartsWith($"{path}: no column holds NAS-Bench-201 cell strings (values like |nor_conv_3x3~0|", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_NonNumericValue_NamesRowAndColumn()
    {
        var path = Write("t.csv", line: i => i == 3 ? $"fast,1,{Nb201.CellAt(i)},x" : $"{i},1,{Nb201.CellAt(i)},x");

        var error = Assert.Throws<FormatException>(() => Nb201CsvTable.Load(path, "shown score", "hidden score"));

        Assert.Equal($"{path}: row 4 (line 5), column 'shown score': 'fast' is not a finite number", error.Message);
    }

    [Fact]
    public void Load_BadCellLaterOn_NamesRowAndCellColumn()
    {
        var path = Write("t.csv", line: i => i == 2 ? "1,1,|conv~0|+|x~0|,x" : $"{i},1,{Nb201.CellAt(i)},x");

        var error = Assert.Throws<FormatException>(() => Nb201CsvTable.Load(path, "shown score", "hidden score"));

        Assert.StartsWith($"{path}: row 3 (line 4), column 'genotype': not a NAS-Bench-201 cell string:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_DuplicateCellWithDifferentValues_NamesBothLines()
    {
        var path = Write("t.csv", line: i => $"{(i == 5 ? 99 : 1)},1,{Nb201.CellAt(i % 5)},x");

        var error = Assert.Throws<FormatException>(() => Nb201CsvTable.Load(path, "shown score", "hidden score"));

        Assert.StartsWith($"{path}: cell {Nb201.CellAt(0)} appears on line 2 and line 7 with different values ('shown score' 1 vs 99, 'hidden score' 1 vs 1)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_DuplicateCellWithSameValues_KeptOnce()
    {
        var table = Nb201CsvTable.Load(Write("t.csv", line: i => $"1,2,{Nb201.CellAt(i % 5)},x"), "shown score", "hidden score");

        Assert.Equal(5, table.Rows.Count);
    }

    [Fact]
    public void Load_EmptyOrHeaderOnlyOrShortRow_NamesTheFile()
    {
        var empty = Path.Combine(_directory, "empty.csv");
        File.WriteAllText(empty, string.Empty);
        var headerOnly = Write("header.csv", cells: 0);
        var shortRow = Write("short.csv", line: i => i == 1 ? "1,2" : $"1,2,{Nb201.CellAt(i)},x");

        Assert.StartsWith($"{empty} is empty", Assert.Throws<FormatException>(() => Nb201CsvTable.Load(empty, "a", "b")).Message, StringComparison.Ordinal);
        Assert.Equal($"{headerOnly}: no data rows below the header", Assert.Throws<FormatException>(() => Nb201CsvTable.Load(headerOnly, "shown score", "hidden score")).Message);
        Assert.Equal($"{shortRow}: row 2 (line 3) has 2 field(s), the header 4", Assert.Throws<FormatException>(() => Nb201CsvTable.Load(shortRow, "shown score", "hidden score")).Message);
    }
}
