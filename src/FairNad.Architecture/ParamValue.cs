using System.Globalization;

namespace FairNad.Architecture;

/// <summary>An operator parameter: a number, a word or a flag.</summary>
public readonly record struct ParamValue
{
    private ParamValue(double? number, string? text, bool? flag)
    {
        Number = number;
        Text = text;
        Flag = flag;
    }

    public double? Number { get; }

    public string? Text { get; }

    public bool? Flag { get; }

    public static implicit operator ParamValue(double value) => new(value == 0 ? 0 : value, null, null); // folds -0 into 0

    public static implicit operator ParamValue(int value) => new(value, null, null);

    public static implicit operator ParamValue(string value) => new(null, value, null);

    public static implicit operator ParamValue(bool value) => new(null, null, value);

    public override string ToString() =>
        Number is { } n ? n.ToString("R", CultureInfo.InvariantCulture) : Text is { } t ? t : Flag == true ? "true" : "false";
}
