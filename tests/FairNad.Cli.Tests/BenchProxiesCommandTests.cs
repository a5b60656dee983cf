using FairNad.Evaluation.Proxies;

namespace FairNad.Cli.Tests;

using static Cli;

public sealed class BenchProxiesCommandTests : IDisposable
{
    private const string Conv = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|nor_conv_3x3~2|";
    private const string Skip = "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|";

    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-proxies-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>
    /// Both cells are already in the scores file (made-up scores that rank the cells as their accuracies do): the run reads
    /// them back, prints rho 1 for the two cells and appends nothing. Recomputing would append the cells' real scores.
    /// </summary>
    [Fact]
    public void BenchProxies_ScoresFileHasEveryCell_ReadBackNotRecomputed()
    {
        File.WriteAllText(Path.Combine(_directory, "nb201_cifar10-valid.csv"), $"file id,arch str,test accuracy\n0,{Conv},90.5\n1,{Skip},60.25\n");
        var scores = Path.Combine(_directory, "scores.csv");
        var recorded = "dataset,file id,arch str,seed,recipe,synflow log10,parameters,test accuracy\n" +
            $"cifar10,0,{Conv},0,{ZeroCostProxies.SynflowRecipe},3.5,1000,90.5\ncifar10,1,{Skip},0,{ZeroCostProxies.SynflowRecipe},1.25,1000,60.25\n";
        File.WriteAllText(scores, recorded);

        var (code, output, error) = Run("bench", "proxies", "--nb201-dir", _directory, "--dataset", "cifar10", "--all", "--scores", scores);

        Assert.True(code == 0, error);
        Assert.Matches(@"(?m)^cifar10\s+2\s+1\.000\s+0\.737\s+\+0\.263\s", output);
        Assert.Equal(recorded, File.ReadAllText(scores));
    }

    [Fact]
    public void BenchProxies_ScoresFileCutMidRow_PartialRowDroppedAndCellRescored()
    {
        File.WriteAllText(Path.Combine(_directory, "nb201_cifar10-valid.csv"), $"file id,arch str,test accuracy\n0,{Conv},90.5\n1,{Skip},60.25\n");
        var scores = Path.Combine(_directory, "scores.csv");
        var complete = "dataset,file id,arch str,seed,recipe,synflow log10,parameters,test accuracy\n" +
            $"cifar10,0,{Conv},0,{ZeroCostProxies.SynflowRecipe},3.5,1000,90.5\n";
        File.WriteAllText(scores, complete + "cifar10,1,|skip_conn");

        var (code, _, error) = Run("bench", "proxies", "--nb201-dir", _directory, "--dataset", "cifar10", "--all", "--scores", scores);

        Assert.True(code == 0, error);
        Assert.Contains("dropped an incomplete last line", error, StringComparison.Ordinal);
        var text = File.ReadAllText(scores);
        Assert.StartsWith(complete, text, StringComparison.Ordinal);
        var added = text[complete.Length..].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(added);
        Assert.StartsWith($"cifar10,1,{Skip},0,{ZeroCostProxies.SynflowRecipe},", added[0], StringComparison.Ordinal);
    }

    [Fact]
    public void BenchProxies_NewScoresFile_HeaderAndOneRowPerCell()
    {
        File.WriteAllText(Path.Combine(_directory, "nb201_cifar10-valid.csv"), $"file id,arch str,test accuracy\n7,{Skip},60.25\n");
        var scores = Path.Combine(_directory, "scores.csv");

        var (code, _, error) = Run("bench", "proxies", "--nb201-dir", _directory, "--dataset", "cifar10", "--all", "--scores", scores);

        Assert.True(code == 0, error);
        var lines = File.ReadAllLines(scores);
        Assert.Equal("dataset,file id,arch str,seed,recipe,synflow log10,parameters,test accuracy", lines[0]);
        Assert.Single(lines[1..]);
        Assert.StartsWith($"cifar10,7,{Skip},0,{ZeroCostProxies.SynflowRecipe},", lines[1], StringComparison.Ordinal);
        Assert.EndsWith(",60.25", lines[1], StringComparison.Ordinal);
    }
}
