using System.Globalization;

namespace FairNad.Architecture.Models;

/// <summary>One named, literal argument of a layer factory call: an int, a double, a bool or a string.</summary>
public sealed record LayerArgument(string Name, object Value)
{
    /// <summary>The value as a C# literal, the same on every machine.</summary>
    public string Literal => Value switch
    {
        int i => i.ToString(CultureInfo.InvariantCulture),
        double d => DoubleLiteral(d),
        bool b => b ? "true" : "false",
        string s => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"",
        _ => throw new InvalidOperationException($"argument '{Name}' has unsupported type {Value.GetType().Name}"),
    };

    private static string DoubleLiteral(double d)
    {
        var text = d.ToString("R", CultureInfo.InvariantCulture);
        return text.Contains('.', StringComparison.Ordinal) || text.Contains('E', StringComparison.Ordinal) ? text : text + ".0";
    }
}

/// <summary>
/// How one part of a network is built: a call of the static factory <see cref="Factory"/> of
/// <c>FairNad.Evaluation.Modules.Layers</c> with literal arguments, the derived sizes its definition computed (see
/// <see cref="OperatorDefinition.Apply"/> and <see cref="NetworkParts"/>). The interpreted model executes these calls
/// through <c>LayerFactory</c>'s typed bindings and the generated C# code prints them, so both paths build the same
/// layers in the same order.
/// </summary>
public sealed record LayerCall(string Factory, IReadOnlyList<LayerArgument> Arguments)
{
    public LayerCall(string factory, params (string Name, object Value)[] arguments)
        : this(factory, arguments.Select(a => new LayerArgument(a.Name, a.Value)).ToList())
    {
    }

    public string ToCSharp() => $"Layers.{Factory}({string.Join(", ", Arguments.Select(a => $"{a.Name}: {a.Literal}"))})";

    public override string ToString() => ToCSharp();
}

/// <summary>Element-wise or channel-wise combination of several node values; these have no weights and no module.</summary>
public enum CombineKind
{
    Add,
    Mul,
    Concat,
}
