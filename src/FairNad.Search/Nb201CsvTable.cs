using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using FairNad.Architecture;

namespace FairNad.Search;

/// <summary>
/// Any CSV table of the NAS-Bench-201 cell space (NATS-Bench topology, HW-NAS-Bench and the like), so a strategy can be
/// checked on a table it was not developed on. The cell column is recognised by its values (strings the NAS-Bench-201
/// parser accepts), not by its name, because such tables name it differently; the query column is what the strategies
/// see, the report column what the benchmark reports of the best cell by the query column. Cells the table lacks stay
/// out: the evaluator answers them as failures (not-in-table), which cost a query like any other.
/// </summary>
/// <param name="Name">The dataset name in the output: the file name without its extension.</param>
/// <param name="Rows">Per cell (in the parser's canonical form): the query and the report value.</param>
public sealed record Nb201CsvTable(string Path, string Name, string CellColumn, string QueryColumn, string ReportColumn, IReadOnlyDictionary<string, (double Query, double Report)> Rows)
{
    /// <summary>Cells of the 15,625 the table does not hold.</summary>
    public int Missing => Nb201.CellCount - Rows.Count;

    /// <summary>
    /// Reads <paramref name="path"/>. Every problem is a <see cref="FormatException"/> (or <see cref="FileNotFoundException"/>)
    /// naming the file and, where one is at fault, the column and the row.
    /// </summary>
    public static Nb201CsvTable Load(string path, string queryColumn, string reportColumn)
    {
        if (Directory.Exists(path))
        {
            throw new FileNotFoundException($"table {path} is a folder; --table names a CSV file such as {System.IO.Path.Combine(path, "nb201_cifar100.csv")}", path);
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"table {path} does not exist", path);
        }

        using var reader = new StreamReader(path);
        var headerLine = reader.ReadLine() ?? throw new FormatException($"{path} is empty; a table needs a header row of column names");
        var header = SplitCsv(headerLine).Select(h => h.Trim()).ToList();
        int Column(string name, string option) => header.IndexOf(name.Trim()) is var i and >= 0 ? i
            : throw new FormatException($"{path}: no column '{name}' ({option}); the columns are: {string.Join(", ", header.Select(h => $"'{h}'"))}");
        var query = Column(queryColumn, "--query-column");
        var report = Column(reportColumn, "--report-column");

        var lines = new List<(int Line, List<string> Fields)>();
        var number = 1;
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            number++;
            if (line.Trim().Length == 0)
            {
                continue;
            }

            var fields = SplitCsv(line);
            if (fields.Count != header.Count)
            {
                throw new FormatException($"{path}: row {lines.Count + 1} (line {number}) has {fields.Count} field(s), the header {header.Count}");
            }

            lines.Add((number, fields));
        }

        if (lines.Count == 0)
        {
            throw new FormatException($"{path}: no data rows below the header");
        }

        var cell = Enumerable.Range(0, header.Count).FirstOrDefault(i => IsCell(lines[0].Fields[i]), -1);
        if (cell < 0)
        {
            throw new FormatException(
                $"{path}: no column holds NAS-Bench-201 cell strings (values like |nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|) in its first row; the columns are: {string.Join(", ", header.Select(h => $"'{h}'"))}");
        }

        var rows = new Dictionary<string, (double Query, double Report)>(StringComparer.Ordinal);
        var firstLine = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var r = 0; r < lines.Count; r++)
        {
            var (line, fields) = lines[r];
            string[] edges;
            try
            {
                edges = Nb201.ParseEdges(fields[cell].Trim());
            }
            catch (FormatException e)
            {
                throw new FormatException($"{path}: row {r + 1} (line {line}), column '{header[cell]}': not a NAS-Bench-201 cell string: {e.Message}");
            }

            double Number(int column)
            {
                var text = fields[column].Trim();
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value) ? value
                    : throw new FormatException($"{path}: row {r + 1} (line {line}), column '{header[column]}': '{text}' is not a finite number");
            }

            var key = Nb201.FormatEdges(edges);
            var values = (Number(query), Number(report));
            if (rows.TryGetValue(key, out var earlier))
            {
                if (earlier != values)
                {
                    throw new FormatException(
                        $"{path}: cell {key} appears on line {firstLine[key]} and line {line} with different values ('{header[query]}' {earlier.Query.ToString(CultureInfo.InvariantCulture)} vs {values.Item1.ToString(CultureInfo.InvariantCulture)}, '{header[report]}' {earlier.Report.ToString(CultureInfo.InvariantCulture)} vs {values.Item2.ToString(CultureInfo.InvariantCulture)}); which one holds is not ours to choose");
                }

                continue;
            }

            rows[key] = values;
            firstLine[key] = line;
        }

        return new Nb201CsvTable(path, System.IO.Path.GetFileNameWithoutExtension(path), header[cell], header[query], header[report], rows);
    }

    /// <summary>
    /// The table as the benchmark's evaluator: the query value is what a strategy sees, the report value what is read for
    /// the best cell; the cost (the Pareto-aware mutation's second objective) is the cell's parameter count in NB201's
    /// skeleton (C = 16, N = 5) for <paramref name="input"/>, computed by the architecture layer.
    /// </summary>
    public Nb201TableEvaluator Evaluator(InputSpec input)
    {
        var parameters = new ConcurrentDictionary<string, double>(StringComparer.Ordinal);
        return new Nb201TableEvaluator(Rows.ToDictionary(kv => kv.Key, kv => (kv.Value.Query, kv.Value.Report), StringComparer.Ordinal))
            .WithCost(cell => parameters.GetOrAdd(cell, c => ArchitectureAnalyzer.Analyze(Nb201.ToSpec(c, input)).Parameters));
    }

    /// <summary>
    /// The input the parameter count assumes: <paramref name="given"/> (cifar10, cifar100 or imagenet16-120) if any, else
    /// the dataset a file name names (imagenet16, cifar100, cifar10, in that order), else CIFAR-10's 3x32x32 with 10 classes.
    /// Only the classifier depends on it (64 x classes + classes parameters), so the choice shifts every cell's count
    /// by the same amount and leaves the cost order of cells unchanged.
    /// </summary>
    public static (InputSpec Input, string Source) InputFor(string path, string? given)
    {
        if (given is not null)
        {
            return (Nb201.InputFor(given), $"--input {given}");
        }

        var name = System.IO.Path.GetFileName(path).ToLowerInvariant();
        foreach (var dataset in new[] { "imagenet16-120", "cifar100", "cifar10" })
        {
            if (name.Contains(dataset.Split('-')[0], StringComparison.Ordinal))
            {
                return (Nb201.InputFor(dataset), $"{dataset}, from the file name");
            }
        }

        return (Nb201.InputFor("cifar10"), "cifar10 by default (the file name names no dataset; --input sets it)");
    }

    private static bool IsCell(string value)
    {
        try
        {
            Nb201.ParseEdges(value.Trim());
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>One CSV line into fields: commas separate, double quotes enclose a field that holds commas, "" is a quote.</summary>
    internal static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var ch = line[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (ch == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(ch);
                }
            }
            else if (ch == '"')
            {
                quoted = true;
            }
            else if (ch == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
            {
                field.Append(ch);
            }
        }

        fields.Add(field.ToString());
        return fields;
    }
}
