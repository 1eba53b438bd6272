import { describe, expect, test } from "bun:test";
import { cardRouteTable, managedCards, secondaryCardOver, secondaryCardShort, type CardEni } from "./network-cards.ts";

const eni = (id: string, interfaceType = "interface", unmanaged = false): CardEni => ({ id, interfaceType, unmanaged });

describe("route tables per network card (upstream CalculateRouteTableId)", () => {
  test("card 0: main for device 0, device + 1 otherwise; card N: 10000 + 100N + device", () => {
    expect(cardRouteTable(0, 0)).toBe(254);
    expect(cardRouteTable(3, 0)).toBe(4);
    expect(cardRouteTable(0, 1)).toBe(10100);
    expect(cardRouteTable(1, 1)).toBe(10101);
    expect(cardRouteTable(1, 31)).toBe(13101);
  });
  test("a bad device or card is refused naming it", () => {
    expect(() => cardRouteTable(-1, 1)).toThrow(/deviceNumber/);
    expect(() => cardRouteTable(0, 1.5)).toThrow(/networkCard/);
  });
});

describe("managed cards (upstream markUnmanagedNetworkCards)", () => {
  const byCard = new Map<number, CardEni[]>([
    [1, [eni("e-ena")]],
    [2, [eni("e-efaonly", "efa-only")]],
    [3, [eni("e-efaonly3", "efa-only"), eni("e-ena3")]],
    [4, [eni("e-efaonly4", "efa-only"), eni("e-nomanage", "interface", true)]],
    [5, [eni("e-efa", "efa")]],
  ]);
  test("without multiNic only card 0", () => {
    expect(managedCards(7, byCard, false)).toEqual([0]);
  });
  test("with multiNic: empty, ena, efa and efa-only + ena cards; not efa-only alone or beside an unmanaged ENI", () => {
    expect(managedCards(7, byCard, true)).toEqual([0, 1, 3, 5, 6]);
  });
});

describe("the fixed warm/minimum IP targets (1, 1) of cards above 0", () => {
  test("short", () => {
    expect(secondaryCardShort(0, 0)).toBe(1);
    expect(secondaryCardShort(1, 0)).toBe(0);
    expect(secondaryCardShort(1, 1)).toBe(1);
    expect(secondaryCardShort(3, 1)).toBe(0);
  });
  test("over", () => {
    expect(secondaryCardOver(1, 0)).toBe(0);
    expect(secondaryCardOver(3, 0)).toBe(2);
    expect(secondaryCardOver(3, 2)).toBe(0);
    expect(secondaryCardOver(4, 1)).toBe(2);
  });
});
