// SPDX-License-Identifier: MIT
// Test stand-ins for Polymarket's on-chain money, written for predarb's tests (not copied
// from any Polymarket source). Compiled once with solcjs; see PROVENANCE.md.
pragma solidity 0.8.26;

interface IERC20Min {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function approve(address spender, uint256 amount) external returns (bool);
    function balanceOf(address who) external view returns (uint256);
}

interface ICTFMin {
    function getCollectionId(bytes32 parent, bytes32 conditionId, uint256 indexSet)
        external view returns (bytes32);
    function getPositionId(address collateral, bytes32 collectionId) external pure returns (uint256);
    function balanceOf(address owner, uint256 id) external view returns (uint256);
    function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes calldata data)
        external;
    function redeemPositions(address collateral, bytes32 parent, bytes32 conditionId, uint256[] calldata indexSets)
        external;
    function mergePositions(
        address collateral, bytes32 parent, bytes32 conditionId, uint256[] calldata partition, uint256 amount
    ) external;
}

/// A 6-decimal ERC-20 standing in for pUSD; anyone may mint (tests only).
contract TestToken {
    string public name;
    string public symbol;
    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_) {
        name = name_;
        symbol = symbol_;
    }

    function mint(address to, uint256 amount) public {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= amount, "allowance");
            allowance[from][msg.sender] = allowed - amount;
        }
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) internal {
        require(balanceOf[from] >= amount, "balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}

/// Wraps an underlying token 1:1, as neg-risk markets hold their positions in a wrapped
/// collateral rather than in pUSD itself.
contract WrappedToken is TestToken {
    IERC20Min public immutable underlying;

    constructor(IERC20Min underlying_) TestToken("Wrapped", "WCOL") {
        underlying = underlying_;
    }

    function wrap(address to, uint256 amount) external {
        require(underlying.transferFrom(msg.sender, address(this), amount), "pull");
        mint(to, amount);
    }

    function unwrap(address to, uint256 amount) external {
        require(balanceOf[msg.sender] >= amount, "balance");
        balanceOf[msg.sender] -= amount;
        totalSupply -= amount;
        emit Transfer(msg.sender, address(0), amount);
        require(underlying.transfer(to, amount), "push");
    }
}

/// Stands in for Polymarket's collateral adapters: the caller's position tokens of the
/// condition are taken (the caller approves the adapter on the CTF once), redeemed or
/// merged on the real ConditionalTokens contract, and the collateral paid to the caller
/// in pUSD. With `wrapped` set (neg-risk), positions are held in the wrapped token and
/// unwrapped before paying. Same call shape as the CTF: redeemPositions(pUSD, 0x0, cid, [1,2]).
contract CollateralAdapter {
    ICTFMin public immutable ctf;
    IERC20Min public immutable collateral;
    WrappedToken public immutable wrapped; // address(0): positions are in `collateral`

    constructor(ICTFMin ctf_, IERC20Min collateral_, WrappedToken wrapped_) {
        ctf = ctf_;
        collateral = collateral_;
        wrapped = wrapped_;
    }

    function redeemPositions(address collateral_, bytes32 parent, bytes32 conditionId, uint256[] calldata indexSets)
        external
    {
        require(collateral_ == address(collateral), "collateral");
        address held = _positionsToken();
        for (uint256 i = 0; i < indexSets.length; i++) {
            _pull(held, parent, conditionId, indexSets[i], type(uint256).max);
        }
        uint256 before = IERC20Min(held).balanceOf(address(this));
        ctf.redeemPositions(held, parent, conditionId, indexSets);
        _pay(IERC20Min(held).balanceOf(address(this)) - before);
    }

    function mergePositions(
        address collateral_, bytes32 parent, bytes32 conditionId, uint256[] calldata partition, uint256 amount
    ) external {
        require(collateral_ == address(collateral), "collateral");
        address held = _positionsToken();
        for (uint256 i = 0; i < partition.length; i++) {
            _pull(held, parent, conditionId, partition[i], amount);
        }
        ctf.mergePositions(held, parent, conditionId, partition, amount);
        _pay(amount);
    }

    function _positionsToken() internal view returns (address) {
        return address(wrapped) == address(0) ? address(collateral) : address(wrapped);
    }

    function _pull(address held, bytes32 parent, bytes32 conditionId, uint256 indexSet, uint256 amount) internal {
        uint256 id = ctf.getPositionId(held, ctf.getCollectionId(parent, conditionId, indexSet));
        uint256 have = ctf.balanceOf(msg.sender, id);
        uint256 take = amount == type(uint256).max ? have : amount;
        if (take > 0) {
            ctf.safeTransferFrom(msg.sender, address(this), id, take, "");
        }
    }

    function _pay(uint256 amount) internal {
        if (amount == 0) return;
        if (address(wrapped) != address(0)) {
            wrapped.unwrap(msg.sender, amount);
        } else {
            require(collateral.transfer(msg.sender, amount), "pay");
        }
    }

    function onERC1155Received(address, address, uint256, uint256, bytes calldata) external pure returns (bytes4) {
        return this.onERC1155Received.selector;
    }

    function onERC1155BatchReceived(address, address, uint256[] calldata, uint256[] calldata, bytes calldata)
        external
        pure
        returns (bytes4)
    {
        return this.onERC1155BatchReceived.selector;
    }
}
